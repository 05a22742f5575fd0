"""X-Twilio-Signature checks: against the SDK's own signer and an independent implementation of
Twilio's documented scheme (HMAC-SHA1 of the URL followed by each sorted field name and value,
base64), so a check that accepted anything would fail here."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import replace

import pytest

from callingbox.core.carrier.signatures import is_valid_twilio_request, public_url
from callingbox.core.errors import ServiceUnavailable
from callingbox.core.settings import Settings

TOKEN = "12345"
URL = "https://api.example.com/prod/twilio/status?call_id=call_1"
FORM = {"CallSid": "CA1234567890ABCDE", "CallStatus": "ringing", "From": "+14158675310", "To": "+18005551212"}


def documented_signature(token: str, url: str, params: dict[str, list[str]]) -> str:
    """Twilio's scheme as its security docs describe it, written without the SDK."""
    payload = url + "".join(name + value for name in sorted(params) for value in sorted(params[name]))
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def test_twilio_docs_example_signature() -> None:
    # The worked example of Twilio's webhook security page (auth token 12345).
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234", "From": "+12349013030",
              "To": "+18005551212"}
    expected = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert documented_signature(TOKEN, url, {k: [v] for k, v in params.items()}) == expected
    assert is_valid_twilio_request(TOKEN, url, params, expected)


def test_a_signature_computed_independently_is_accepted() -> None:
    signature = documented_signature(TOKEN, URL, {k: [v] for k, v in FORM.items()})
    assert is_valid_twilio_request(TOKEN, URL, FORM, signature)


def test_sdk_signer_and_documented_scheme_agree() -> None:
    from twilio.request_validator import RequestValidator

    assert RequestValidator(TOKEN).compute_signature(URL, FORM) == documented_signature(
        TOKEN, URL, {k: [v] for k, v in FORM.items()})


def test_repeated_form_keys_are_all_signed() -> None:
    form = {**FORM, "StatusCallbackEvent": ["ringing", "answered"]}
    signature = documented_signature(TOKEN, URL, {k: v if isinstance(v, list) else [v] for k, v in form.items()})
    assert is_valid_twilio_request(TOKEN, URL, form, signature)
    # dropping one of the repeated values breaks it
    assert not is_valid_twilio_request(TOKEN, URL, {**FORM, "StatusCallbackEvent": ["ringing"]}, signature)


@pytest.mark.parametrize("tamper", ["field", "url", "query", "token"])
def test_any_change_invalidates(tamper: str) -> None:
    signature = documented_signature(TOKEN, URL, {k: [v] for k, v in FORM.items()})
    form, url, token = dict(FORM), URL, TOKEN
    if tamper == "field":
        form["CallStatus"] = "completed"
    elif tamper == "url":
        url = URL.replace("/prod/", "/dev/")
    elif tamper == "query":
        url = URL.replace("call_1", "call_2")
    else:
        token = "54321"
    assert not is_valid_twilio_request(token, url, form, signature)


@pytest.mark.parametrize("signature", [None, "", "garbage"])
def test_missing_or_garbage_signature_is_invalid(signature: str | None) -> None:
    assert not is_valid_twilio_request(TOKEN, URL, FORM, signature)


def test_no_token_never_validates() -> None:
    assert not is_valid_twilio_request("", URL, FORM, documented_signature("", URL, {k: [v] for k, v in FORM.items()}))


def test_public_url_joins_base_path_and_query() -> None:
    settings = replace(Settings(), public_api_url="https://abc.execute-api.us-east-1.amazonaws.com/prod")
    assert public_url(settings, "/twilio/voice") == "https://abc.execute-api.us-east-1.amazonaws.com/prod/twilio/voice"
    assert public_url(settings, "twilio/status", "call_id=call_1") == (
        "https://abc.execute-api.us-east-1.amazonaws.com/prod/twilio/status?call_id=call_1")
    with pytest.raises(ServiceUnavailable) as caught:
        public_url(Settings(), "/twilio/voice")
    assert caught.value.code == "public_url_not_configured"
