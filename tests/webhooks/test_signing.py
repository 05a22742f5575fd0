"""CallingBox-Signature: the format (recomputed here from its definition) and every way
``callingbox.webhooks.verify`` refuses a delivery."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

import callingbox
from callingbox import WebhookVerificationError, webhooks
from callingbox.core.signing import new_secret, sign, verify_header

SECRET = "whsec_test_0123456789"
CALL = {"id": "call_01", "object": "call", "agent_id": "agent_01", "direction": "outbound", "to_number": "+14155550100",
        "status": "queued", "created": 1767225600, "updated": 1767225600}
EVENT = {"id": "evt_01", "object": "event", "type": "call.queued", "created": 1767225600, "data": {"object": CALL}}
BODY = json.dumps(EVENT, separators=(",", ":")).encode()


def _hmac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_the_header_is_t_and_v1_over_timestamp_dot_raw_body() -> None:
    # GIVEN a body and a fixed time WHEN signed
    header = sign(SECRET, BODY, timestamp=1767225600)
    # THEN it reads t=<unix>,v1=<hex HMAC-SHA256("<t>.<body>")> keyed by the whole secret
    assert header == f"t=1767225600,v1={_hmac(SECRET, 1767225600, BODY)}"


def test_several_secrets_give_one_v1_each_in_order() -> None:
    header = sign(["whsec_new", "whsec_old"], BODY, timestamp=100)
    assert header == f"t=100,v1={_hmac('whsec_new', 100, BODY)},v1={_hmac('whsec_old', 100, BODY)}"


def test_new_secrets_are_prefixed_and_random() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_") and len(first) > 40 and first != second


def test_verify_returns_the_typed_event() -> None:
    event = webhooks.verify(BODY, sign(SECRET, BODY), SECRET)
    from callingbox.types import Event

    assert isinstance(event, Event)
    assert event.id == "evt_01" and event.type == "call.queued" and event.data.object.id == "call_01"


def test_verify_accepts_a_header_signed_independently() -> None:
    now = int(time.time())
    header = f"t={now},v1={_hmac(SECRET, now, BODY)}"
    assert webhooks.verify(BODY, header, SECRET).id == "evt_01"


def test_verify_takes_the_request_headers_and_a_str_body() -> None:
    headers = {"content-type": "application/json", "callingbox-signature": sign(SECRET, BODY)}
    assert webhooks.verify(BODY.decode(), headers, SECRET).id == "evt_01"


@pytest.mark.parametrize("tamper", [
    lambda body: body.replace(b'"queued"', b'"canceled"'),
    lambda body: body + b" ",
    lambda body: body[:-1],
])
def test_a_tampered_body_fails(tamper) -> None:
    header = sign(SECRET, BODY)
    with pytest.raises(WebhookVerificationError, match="no signature matches"):
        webhooks.verify(tamper(BODY), header, SECRET)


def test_the_wrong_secret_fails() -> None:
    with pytest.raises(WebhookVerificationError, match="no signature matches"):
        webhooks.verify(BODY, sign("whsec_someone_else", BODY), SECRET)


def test_an_old_timestamp_fails_even_with_a_valid_signature() -> None:
    old = int(time.time()) - 301
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        webhooks.verify(BODY, sign(SECRET, BODY, timestamp=old), SECRET)
    # within the tolerance it passes; a wider tolerance admits it
    assert webhooks.verify(BODY, sign(SECRET, BODY, timestamp=old + 10), SECRET).id == "evt_01"
    assert webhooks.verify(BODY, sign(SECRET, BODY, timestamp=old), SECRET, tolerance=600).id == "evt_01"


def test_a_far_future_timestamp_fails() -> None:
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        webhooks.verify(BODY, sign(SECRET, BODY, timestamp=int(time.time()) + 3600), SECRET)


def test_a_timestamp_cannot_be_swapped_under_a_valid_signature() -> None:
    # The timestamp is signed: replaying an old signature with a fresh t= does not verify.
    old = int(time.time()) - 3600
    signature = _hmac(SECRET, old, BODY)
    with pytest.raises(WebhookVerificationError, match="no signature matches"):
        webhooks.verify(BODY, f"t={int(time.time())},v1={signature}", SECRET)


def test_any_matching_v1_verifies_during_a_rotation() -> None:
    header = sign(["whsec_new", SECRET], BODY)
    assert webhooks.verify(BODY, header, SECRET).id == "evt_01"
    assert webhooks.verify(BODY, header, "whsec_new").id == "evt_01"
    with pytest.raises(WebhookVerificationError):
        webhooks.verify(BODY, header, "whsec_neither")


@pytest.mark.parametrize("header, message", [
    (None, "no CallingBox-Signature"),
    ("", "no CallingBox-Signature"),
    ("v1=abc", "no timestamp"),
    ("t=abc,v1=abc", "not a number"),
    ("t=100", "no v1 signature"),
    ("t=100,v0=abc", "no v1 signature"),
    ("garbage", "no timestamp"),
])
def test_malformed_headers_fail(header, message) -> None:
    with pytest.raises(WebhookVerificationError, match=message):
        webhooks.verify(BODY, header, SECRET)


def test_the_secret_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(WebhookVerificationError, match="CALLINGBOX_WEBHOOK_SECRET"):
        webhooks.verify(BODY, sign(SECRET, BODY))
    monkeypatch.setenv("CALLINGBOX_WEBHOOK_SECRET", SECRET)
    assert webhooks.verify(BODY, sign(SECRET, BODY)).id == "evt_01"


def test_a_signed_body_that_is_not_an_event_fails() -> None:
    for body in (b"not json", b'{"id": "evt_1"}'):
        with pytest.raises(WebhookVerificationError, match="not"):
            webhooks.verify(body, sign(SECRET, body), SECRET)


def test_core_verify_header_checks_against_every_secret_and_returns_the_timestamp() -> None:
    assert verify_header(BODY, sign(SECRET, BODY, timestamp=1000), ["whsec_other", SECRET], now=1100) == 1000
    with pytest.raises(WebhookVerificationError):
        verify_header(BODY, sign(SECRET, BODY, timestamp=1000), [SECRET], now=1400)


def test_the_error_is_exported_and_documented() -> None:
    assert callingbox.WebhookVerificationError is WebhookVerificationError
    assert issubclass(WebhookVerificationError, callingbox.CallingboxError)
    assert "WebhookVerificationError" in callingbox.__all__


def test_importing_webhooks_stays_light() -> None:
    import subprocess
    import sys

    script = ("import sys, callingbox.webhooks, callingbox\ncallingbox.webhooks.verify\n"
              "print(sorted(m for m in sys.modules if m.startswith(('pydantic', 'httpx', 'callingbox.core'))))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
