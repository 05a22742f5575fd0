"""Where the carrier's credentials come from: the environment, or a Secrets Manager secret (read
once per process) in the embedded AWS emulation."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Any, Iterator

import pytest

from callingbox.core.carrier import CarrierNotConfigured, TwilioCarrier, carrier_configured, carrier_from_settings
from callingbox.core.carrier.credentials import auth_token_from_settings, forget_cached_secrets
from callingbox.core.errors import ServiceUnavailable
from callingbox.core.settings import Settings


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    forget_cached_secrets()
    yield
    forget_cached_secrets()


@pytest.fixture
def secrets(local_stack: Any) -> Any:
    import botocore.session

    return botocore.session.get_session().create_client(
        "secretsmanager", region_name="us-east-1", endpoint_url=local_stack.aws.endpoint_url)


@pytest.fixture
def aws_settings(local_stack: Any) -> Settings:
    return Settings.from_env(local_stack.environment)


def test_from_the_environment() -> None:
    settings = Settings.from_env({"TWILIO_ACCOUNT_SID": "AC" + "2" * 32, "TWILIO_AUTH_TOKEN": "tok",
                                  "CALLINGBOX_TWILIO_API_URL": "http://127.0.0.1:9"})
    assert carrier_configured(settings) and auth_token_from_settings(settings) == "tok"
    carrier = carrier_from_settings(settings)
    assert isinstance(carrier, TwilioCarrier) and carrier.api_base_url == "http://127.0.0.1:9"


def test_missing_credentials_are_a_clear_503() -> None:
    settings = Settings.from_env({"TWILIO_ACCOUNT_SID": "AC" + "2" * 32})  # no token
    assert not carrier_configured(settings)
    with pytest.raises(CarrierNotConfigured) as caught:
        carrier_from_settings(settings)
    error = caught.value
    assert error.status == 503 and error.code == "carrier_not_configured" and error.should_retry is False
    assert "TWILIO_AUTH_TOKEN" in error.message and "CALLINGBOX_TWILIO_SECRET_ARN" in error.message


def test_from_secrets_manager_read_once(secrets: Any, aws_settings: Settings) -> None:
    # GIVEN a secret holding the credentials (and different ones in the environment settings)
    name = f"twilio-{uuid.uuid4().hex}"
    arn = secrets.create_secret(Name=name, SecretString=json.dumps(
        {"account_sid": "AC" + "3" * 32, "auth_token": "from-secret"}))["ARN"]
    settings = replace(aws_settings, twilio_secret_arn=arn, twilio_account_sid="ACenv", twilio_auth_token="env")
    # WHEN the token is asked for THEN the secret wins
    assert auth_token_from_settings(settings) == "from-secret"
    # and it is not read again: the process keeps it even after the secret is gone
    secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert auth_token_from_settings(settings) == "from-secret"
    assert isinstance(carrier_from_settings(settings), TwilioCarrier)


def test_a_malformed_secret_is_not_configured(secrets: Any, aws_settings: Settings) -> None:
    arn = secrets.create_secret(Name=f"twilio-{uuid.uuid4().hex}", SecretString='{"sid": "x"}')["ARN"]
    with pytest.raises(CarrierNotConfigured):
        carrier_from_settings(replace(aws_settings, twilio_secret_arn=arn))


def test_an_unreadable_secret_is_a_retryable_503(aws_settings: Settings) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"
    with pytest.raises(ServiceUnavailable) as caught:
        carrier_from_settings(replace(aws_settings, twilio_secret_arn=arn))
    assert caught.value.code == "carrier_credentials_unavailable" and caught.value.should_retry is True
