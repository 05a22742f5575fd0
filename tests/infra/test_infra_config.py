"""The deployment's context, validated at the edge of the app."""

from __future__ import annotations

import pytest

pytest.importorskip("aws_cdk", reason="the infra extra is not installed")

from pydantic import ValidationError  # noqa: E402

from infra.calling_box import bedrock_resources  # noqa: E402
from infra.config import DeployConfig  # noqa: E402


def test_command_line_lists_and_defaults() -> None:
    config = DeployConfig.model_validate({"bedrock_model_ids": "amazon.nova-lite-v1:0, amazon.nova-pro-v1:0",
                                          "dial_cps": "2.5"})
    assert config.bedrock_model_ids == ("amazon.nova-lite-v1:0", "amazon.nova-pro-v1:0")
    assert config.default_llm_model == "bedrock:amazon.nova-lite-v1:0"
    assert config.dial_cps == 2.5 and config.api_domain is None


def test_domain_needs_a_certificate_and_names_both_hosts() -> None:
    with pytest.raises(ValidationError, match="domain_name and certificate_arn go together"):
        DeployConfig.model_validate({"domain_name": "calls.example.com"})
    config = DeployConfig.model_validate({"domain_name": "calls.example.com",
                                          "certificate_arn": "arn:aws:acm:us-east-1:1:certificate/x"})
    assert (config.api_domain, config.gateway_domain) == ("api.calls.example.com", "voice.calls.example.com")


@pytest.mark.parametrize("context", [{"unknown_key": 1}, {"gateway_min_tasks": 3, "gateway_max_tasks": 2},
                                     {"bedrock_model_ids": ""}, {"dial_cps": 0}])
def test_bad_context_is_refused(context: dict) -> None:
    with pytest.raises(ValidationError):
        DeployConfig.model_validate(context)


def test_bedrock_resources_name_each_model() -> None:
    arns = bedrock_resources(("amazon.nova-lite-v1:0", "eu.anthropic.claude-3-haiku-20240307-v1:0"),
                             partition="aws", region="eu-west-1", account="123456789012")
    assert arns == [
        "arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-lite-v1:0",
        "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0",
        "arn:aws:bedrock:*::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
    ]
