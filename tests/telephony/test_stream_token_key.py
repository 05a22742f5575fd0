"""The stream-token key: the environment's value, else the Secrets Manager secret the deployed
functions are given (read once per process), in the local stack's AWS emulation; and the two
places that sign stream tokens (the voice webhook's TwiML and the dialer) using it."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any, Iterator

import pytest

from callingbox.core.dialing import DialJob, DialOutcome, DialRetryable
from callingbox.core.errors import ServiceUnavailable
from callingbox.core.settings import Settings
from callingbox.core.signing_keys import StreamTokenKeyNotConfigured, forget_cached_keys, stream_token_key
from callingbox.core.stream_tokens import verify_stream_token
from callingbox.core.telephony import stream_twiml
from tests.telephony.support import new_call, twiml

MISSING_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:callingbox-missing-AbCdEf"


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    forget_cached_keys()
    yield
    forget_cached_keys()


@pytest.fixture
def secrets(local_stack: Any) -> Any:
    import botocore.session

    return botocore.session.get_session().create_client(
        "secretsmanager", region_name="us-east-1", endpoint_url=local_stack.aws.endpoint_url)


@pytest.fixture
def key_secret(secrets: Any) -> tuple[str, str]:
    """A secret shaped as the deployment makes it (a generated plain string): (arn, value)."""
    value = uuid.uuid4().hex + uuid.uuid4().hex
    arn = secrets.create_secret(Name=f"stream-token-{uuid.uuid4().hex}", SecretString=value)["ARN"]
    return arn, value


@pytest.fixture
def aws_settings(local_stack: Any) -> Settings:
    return replace(Settings.from_env(local_stack.environment), stream_token_secret="")


def token_of(document: str) -> str:
    parameters = {p.get("name"): p.get("value") for p in twiml(document).findall("Connect/Stream/Parameter")}
    return str(parameters["token"])


def test_the_environment_read_by_settings() -> None:
    settings = Settings.from_env({"CALLINGBOX_SIGNING_SECRET_ARN": MISSING_ARN})
    assert settings.signing_secret_arn == MISSING_ARN and settings.stream_token_secret == ""


def test_the_value_in_the_environment_wins_and_no_secret_is_read() -> None:
    # The ARN names no secret and there is no AWS endpoint: reading it would fail
    settings = Settings(stream_token_secret="from-env", signing_secret_arn=MISSING_ARN,
                        aws_endpoint_url="http://127.0.0.1:9")
    assert stream_token_key(settings) == b"from-env"


def test_no_key_at_all_is_a_clear_503_that_retrying_will_not_fix() -> None:
    with pytest.raises(StreamTokenKeyNotConfigured) as caught:
        stream_token_key(Settings())
    error = caught.value
    assert error.status == 503 and error.code == "stream_token_key_not_configured" and error.should_retry is False
    assert "CALLINGBOX_STREAM_TOKEN_SECRET" in error.message and "CALLINGBOX_SIGNING_SECRET_ARN" in error.message


def test_from_secrets_manager_read_once_and_signing_with_it(secrets: Any, key_secret: tuple[str, str],
                                                            aws_settings: Settings) -> None:
    arn, value = key_secret
    settings = replace(aws_settings, signing_secret_arn=arn, gateway_url="wss://voice.example.com/stream",
                       public_api_url="https://api.example.com")
    # The TwiML's token verifies with the secret's value (what the gateway gets as its ECS secret)
    claims = verify_stream_token(value.encode(), token_of(stream_twiml(settings, "ws_a", "call_b")))
    assert (claims.workspace_id, claims.call_id) == ("ws_a", "call_b")
    # And it is not read again: the process keeps it even after the secret is gone
    secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert stream_token_key(settings) == value.encode()


def test_an_unreadable_secret_is_a_retryable_503(aws_settings: Settings) -> None:
    with pytest.raises(ServiceUnavailable) as caught:
        stream_token_key(replace(aws_settings, signing_secret_arn=MISSING_ARN))
    assert caught.value.code == "stream_token_key_unavailable" and caught.value.should_retry is True


def test_a_binary_secret_is_not_a_key(secrets: Any, aws_settings: Settings) -> None:
    arn = secrets.create_secret(Name=f"stream-token-{uuid.uuid4().hex}", SecretBinary=b"\x00\x01")["ARN"]
    with pytest.raises(StreamTokenKeyNotConfigured):
        stream_token_key(replace(aws_settings, signing_secret_arn=arn))


def test_the_dialer_signs_with_the_secret_and_retries_without_dialing_when_it_cannot_read_it(
        api: Any, workspace: Any, telephony: Any, outbound_agent: dict, key_secret: tuple[str, str]) -> None:
    arn, value = key_secret
    call = new_call(api, outbound_agent)
    job = DialJob(workspace.id, call["id"])
    # GIVEN a dialer deployed with the secret's ARN only, and the secret unreadable
    unreadable = replace(telephony, settings=replace(telephony.settings, stream_token_secret="",
                                                     signing_secret_arn=MISSING_ARN))
    # WHEN it takes the job THEN SQS gets it back, nothing is dialed and the claim is given back
    with pytest.raises(DialRetryable):
        unreadable.dialer().dial(job)
    assert telephony.carrier.dials == []
    stored = api.get(f"/v1/calls/{call['id']}").json()
    assert stored["status"] == "queued" and stored.get("dial") is None
    # WHEN the redelivered job finds the secret THEN it dials at once (no stale claim to wait out)
    readable = replace(telephony, settings=replace(unreadable.settings, signing_secret_arn=arn))
    assert readable.dialer().dial(job).outcome is DialOutcome.DIALED
    [dialed] = telephony.carrier.dials
    claims = verify_stream_token(value.encode(), token_of(dialed.request.twiml))
    assert (claims.workspace_id, claims.call_id) == (workspace.id, call["id"])
