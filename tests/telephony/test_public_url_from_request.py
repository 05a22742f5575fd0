"""A deployment without a custom domain has no ``CALLINGBOX_PUBLIC_API_URL`` in the API function: the
API takes its public URL from API Gateway's request context. The carrier's signatures are checked
against it, and the URLs the API gives the carrier are built on it.

Real API Gateway (REST, Lambda proxy) events go into the Chalice app's Lambda entry point, signed
as Twilio signs (``RequestValidator``).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Any, Iterator, Mapping, Optional
from urllib.parse import urlencode

import pytest

from tests.telephony.conftest import AUTH_TOKEN
from tests.telephony.support import twiml

API_ID = "a1b2c3d4e5"
EXECUTE_API = f"{API_ID}.execute-api.us-east-1.amazonaws.com"
STAGE = "api"
FORM = "application/x-www-form-urlencoded; charset=UTF-8"


def proxy_event(path: str, *, body: str, headers: Mapping[str, str], domain: Optional[str] = EXECUTE_API,
                through_stage: bool = True, resource: Optional[str] = None,
                path_parameters: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """What API Gateway hands the function for ``POST path`` (``through_stage``: on the stage's own
    endpoint, whose paths start with the stage; otherwise a custom domain mapped at its root)."""
    context: dict[str, Any] = {
        "resourceId": "x1y2z3", "resourcePath": resource or path, "httpMethod": "POST",
        "path": f"/{STAGE}{path}" if through_stage else path, "accountId": "123456789012", "protocol": "HTTP/1.1",
        "stage": STAGE, "requestId": str(uuid.uuid4()), "requestTimeEpoch": 1700000000000, "apiId": API_ID,
        "identity": {"sourceIp": "54.172.60.1", "userAgent": "TwilioProxy/1.1"},
    }
    if domain is not None:
        context.update(domainName=domain, domainPrefix=domain.split(".")[0])
    return {
        "resource": resource or path, "path": path, "httpMethod": "POST",
        "headers": dict(headers), "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters, "stageVariables": None, "requestContext": context,
        "body": body, "isBase64Encoded": False,
    }


def signed(url: str, params: Mapping[str, str]) -> str:
    from twilio.request_validator import RequestValidator

    return str(RequestValidator(AUTH_TOKEN).compute_signature(url, dict(params)))


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    """The Chalice app's Lambda handler, as API Gateway calls it."""
    from callingbox.local.stack import load_api_app

    return load_api_app()(event, None)


def twilio_post(path: str, params: Mapping[str, str], *, signed_url: str, host: str = EXECUTE_API,
                **event: Any) -> dict[str, Any]:
    headers = {"Content-Type": FORM, "Host": host, "X-Twilio-Signature": signed(signed_url, params)}
    return invoke(proxy_event(path, body=urlencode(params), headers=headers, **event))


@pytest.fixture
def no_public_url(telephony: Any) -> Iterator[Any]:
    """The API's runtime as deployed without a custom domain: no ``public_api_url``."""
    from callingbox.core.auth import KeyResolver
    from chalicelib import runtime  # type: ignore[import-not-found]

    settings = replace(telephony.settings, public_api_url="")
    runtime.install(runtime.Runtime(settings=settings, queues=telephony.queues,
                                    keys=KeyResolver(settings.api_key_cache_seconds),
                                    carrier_factory=lambda _settings: telephony.carrier))
    yield telephony  # the telephony fixture puts the stack's own runtime back


STATUS = {"CallSid": "CA" + "9" * 32, "CallStatus": "completed", "AccountSid": "AC" + "0" * 32}


def test_signatures_are_checked_against_the_stage_url_api_gateway_reports(no_public_url: Any) -> None:
    stage_url = f"https://{EXECUTE_API}/{STAGE}/twilio/status"
    # Signed over the URL Twilio called (the stage's endpoint): accepted
    accepted = twilio_post("/twilio/status", STATUS, signed_url=stage_url)
    assert accepted["statusCode"] == 200, accepted["body"]
    assert accepted["headers"]["Content-Type"] == "text/xml"
    # Signed over the same host without the stage, or over a host the caller chose (the Host
    # header is the caller's; API Gateway's domainName is not): refused
    for url, host in ((f"https://{EXECUTE_API}/twilio/status", EXECUTE_API),
                      ("https://attacker.example/api/twilio/status", "attacker.example")):
        refused = twilio_post("/twilio/status", STATUS, signed_url=url, host=host)
        assert refused["statusCode"] == 403
        assert json.loads(refused["body"])["error"]["code"] == "invalid_signature"


def test_through_a_custom_domain_mapped_at_its_root_the_url_has_no_stage(no_public_url: Any) -> None:
    domain = "api.calls.example.com"
    response = twilio_post("/twilio/status", STATUS, signed_url=f"https://{domain}/twilio/status",
                           host=domain, domain=domain, through_stage=False)
    assert response["statusCode"] == 200, response["body"]


def test_without_either_the_webhook_is_a_503_not_a_guess(no_public_url: Any) -> None:
    # A request context without domainName (e.g. a hand-written event): no URL to check against
    response = twilio_post("/twilio/status", STATUS, signed_url=f"https://{EXECUTE_API}/{STAGE}/twilio/status",
                           domain=None)
    assert response["statusCode"] == 503
    assert json.loads(response["body"])["error"]["code"] == "public_url_not_configured"


def test_the_inbound_twiml_sends_the_carrier_back_to_the_stage_url(no_public_url: Any, api: Any,
                                                                   workspace: Any) -> None:
    created = api.post("/v1/agents", json={"name": "Front desk", "type": "inbound", "number_ids": ["pn_xyz789"],
                                           "instructions": "Answer questions about opening hours."})
    assert created.status_code == 200, created.text
    params = {"AccountSid": "AC" + "0" * 32, "CallSid": "CA" + uuid.uuid4().hex, "From": "+14155557001",
              "To": workspace.numbers["pn_xyz789"], "CallStatus": "ringing", "Direction": "inbound"}
    response = twilio_post("/twilio/voice", params, signed_url=f"https://{EXECUTE_API}/{STAGE}/twilio/voice")
    assert response["statusCode"] == 200, response["body"]
    connect = twiml(response["body"]).find("Connect")
    assert connect is not None
    call_id = connect.find("Stream/Parameter[@name='call_id']").get("value")
    assert connect.get("action") == f"https://{EXECUTE_API}/{STAGE}/twilio/calls/{workspace.id}/{call_id}/after_stream"


def test_a_configured_public_url_wins_over_the_request(telephony: Any) -> None:
    # The telephony runtime has public_api_url set (a custom domain): the stage URL is not accepted
    response = twilio_post("/twilio/status", STATUS, signed_url=f"https://{EXECUTE_API}/{STAGE}/twilio/status")
    assert response["statusCode"] == 403
    accepted = twilio_post("/twilio/status", STATUS, signed_url=telephony.settings.public_api_url + "/twilio/status")
    assert accepted["statusCode"] == 200, accepted["body"]


@pytest.mark.parametrize("context, expected", [
    ({"domainName": EXECUTE_API, "stage": "api", "path": "/api/twilio/voice"}, f"https://{EXECUTE_API}/api"),
    ({"domainName": "api.calls.example.com", "stage": "api", "path": "/twilio/voice"},
     "https://api.calls.example.com"),
    ({"domainName": EXECUTE_API, "stage": "api"}, f"https://{EXECUTE_API}"),
    ({"stage": "api", "path": "/api/twilio/voice"}, None),
    ({"domainName": "evil.example/x?", "stage": "api", "path": "/api/x"}, None),
    ({"domainName": EXECUTE_API, "stage": "a/b", "path": "/a/b/x"}, f"https://{EXECUTE_API}"),
    ({}, None),
    (None, None),
])
def test_public_base_url(context: Optional[dict[str, str]], expected: Optional[str]) -> None:
    from chalicelib.runtime import public_base_url  # type: ignore[import-not-found]

    assert public_base_url(context) == expected


def test_a_bought_number_points_at_the_stage_url(local_stack: Any, workspace: Any) -> None:
    from callingbox.core.auth import KeyResolver
    from callingbox.core.settings import Settings
    from chalicelib import runtime  # type: ignore[import-not-found]
    from tests.carrier.fake_twilio import FakeTwilio, available_local
    from tests.support import unique_e164

    # GIVEN the API on a real (fake) Twilio REST API, deployed without a public URL
    fake = FakeTwilio().start()
    previous = runtime.current()
    settings = replace(Settings.from_env(local_stack.environment), carrier="twilio", public_api_url="",
                       twilio_account_sid=fake.account_sid, twilio_auth_token=fake.auth_token,
                       twilio_api_base_url=fake.base_url)
    runtime.install(runtime.Runtime(settings=settings, queues=previous.queues,
                                    keys=KeyResolver(settings.api_key_cache_seconds)))
    try:
        number = unique_e164()
        fake.offer("US", available_local(number, locality="San Francisco", region="CA"))
        # WHEN a number is bought through the stage's endpoint
        headers = {"Content-Type": "application/json", "Host": EXECUTE_API,
                   "Authorization": f"Bearer {workspace.api_key}"}
        response = invoke(proxy_event("/v1/numbers", body=json.dumps({"number": number}), headers=headers))
        # THEN Twilio is told to call the platform on the stage's URL
        assert response["statusCode"] == 200, response["body"]
        sid = json.loads(response["body"])["carrier_sid"]
        assert fake.owned[sid]["voice_url"] == f"https://{EXECUTE_API}/{STAGE}/twilio/voice"
        assert fake.owned[sid]["status_callback"] == f"https://{EXECUTE_API}/{STAGE}/twilio/status"
    finally:
        runtime.install(previous)
        fake.stop()
