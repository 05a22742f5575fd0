"""Webhook endpoints over real HTTP: CRUD, the secret shown once, rotation, and bad input."""

from __future__ import annotations

from typing import Any

import pytest

from callingbox.core.webhook_endpoints import MAX_ENDPOINTS, ROTATION_OVERLAP_S
from callingbox.types import WebhookEndpoint


def _create(api: Any, **body: Any) -> dict[str, Any]:
    response = api.post("/v1/webhook_endpoints", json={"url": "https://hooks.example.com/cb", **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_create_shows_the_secret_once(api: Any) -> None:
    # WHEN an endpoint is created
    endpoint = _create(api, events=["call.completed", "call.failed"], description="CRM", metadata={"team": "ops"})
    WebhookEndpoint.model_validate(endpoint)
    # THEN the response carries the secret
    assert endpoint["id"].startswith("we_") and endpoint["object"] == "webhook_endpoint"
    assert endpoint["secret"].startswith("whsec_") and endpoint["enabled"] is True
    assert endpoint["events"] == ["call.completed", "call.failed"] and endpoint["metadata"] == {"team": "ops"}
    # AND no later read shows it
    fetched = api.get(f"/v1/webhook_endpoints/{endpoint['id']}").json()
    assert "secret" not in fetched and fetched == {k: v for k, v in endpoint.items() if k != "secret"}
    listed = api.get("/v1/webhook_endpoints").json()["data"]
    assert [e["id"] for e in listed] == [endpoint["id"]] and "secret" not in listed[0]
    patched = api.patch(f"/v1/webhook_endpoints/{endpoint['id']}", json={"enabled": False}).json()
    assert "secret" not in patched and patched["enabled"] is False


def test_events_default_to_everything(api: Any) -> None:
    assert _create(api)["events"] == ["*"]
    assert _create(api, events=["call.queued", "call.queued"])["events"] == ["call.queued"]


def test_update_list_and_delete(api: Any) -> None:
    first, second = _create(api), _create(api, events=["call.completed"])
    page = api.get("/v1/webhook_endpoints", params={"limit": 1}).json()
    assert [e["id"] for e in page["data"]] == [second["id"]] and page["has_more"] is True
    rest = api.get("/v1/webhook_endpoints", params={"cursor": page["next_cursor"]}).json()
    assert [e["id"] for e in rest["data"]] == [first["id"]] and rest["has_more"] is False

    updated = api.patch(f"/v1/webhook_endpoints/{first['id']}",
                        json={"url": "https://other.example.com/x", "events": ["call.canceled"],
                              "description": None}).json()
    assert (updated["url"], updated["events"], updated["description"]) == (
        "https://other.example.com/x", ["call.canceled"], None)
    assert updated["created"] == first["created"] and updated["updated"] >= first["updated"]

    deleted = api.delete(f"/v1/webhook_endpoints/{first['id']}")
    assert deleted.json() == {"id": first["id"], "object": "webhook_endpoint", "deleted": True}
    assert api.get(f"/v1/webhook_endpoints/{first['id']}").status_code == 404
    assert api.delete(f"/v1/webhook_endpoints/{first['id']}").status_code == 404


def test_rotation_returns_a_new_secret_and_keeps_the_old_one_for_24_hours(api: Any) -> None:
    endpoint = _create(api)
    rotated = api.patch(f"/v1/webhook_endpoints/{endpoint['id']}", json={"rotate_secret": True}).json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != endpoint["secret"]
    assert rotated["previous_secret_expires_at"] - rotated["updated"] == ROTATION_OVERLAP_S
    assert "secret" not in api.get(f"/v1/webhook_endpoints/{endpoint['id']}").json()
    # (that deliveries then carry two v1 signatures is tested in test_delivery.py)


def test_workspace_secret_signs_webhook_urls_and_rotates(api: Any) -> None:
    secret = api.get("/v1/webhook_secret").json()
    assert secret["object"] == "webhook_secret" and secret["secret"].startswith("whsec_")
    assert api.get("/v1/webhook_secret").json() == secret  # made once
    rotated = api.post("/v1/webhook_secret/rotate").json()
    assert rotated["secret"] != secret["secret"] and rotated["previous_secret_expires_at"] is not None
    assert api.get("/v1/webhook_secret").json() == rotated


def test_endpoints_are_invisible_to_other_workspaces(local_stack: Any, api: Any) -> None:
    from tests.support import new_workspace

    endpoint = _create(api)
    with new_workspace(local_stack.api_url, "other").http() as other:
        assert other.get(f"/v1/webhook_endpoints/{endpoint['id']}").status_code == 404
        assert other.patch(f"/v1/webhook_endpoints/{endpoint['id']}", json={"enabled": False}).status_code == 404
        assert other.delete(f"/v1/webhook_endpoints/{endpoint['id']}").status_code == 404
        assert other.get("/v1/webhook_endpoints").json()["data"] == []
        assert other.get("/v1/webhook_secret").json()["secret"] != api.get("/v1/webhook_secret").json()["secret"]


@pytest.mark.parametrize("body, code, param", [
    ({}, "missing_field", "url"),
    ({"url": "http://hooks.example.com/x"}, None, "url"),  # plain http is local-only; see below
    ({"url": "https://10.0.0.1/x"}, "url_not_allowed", "url"),
    ({"url": "https://169.254.169.254/latest/meta-data"}, "url_not_allowed", "url"),
    ({"url": "https://192.168.0.4/x"}, "url_not_allowed", "url"),
    ({"url": "hooks.example.com"}, "invalid_url", "url"),
    ({"url": "https://user:pw@hooks.example.com/"}, "invalid_url", "url"),
    ({"url": 42}, "invalid_type", "url"),
    ({"url": "https://hooks.example.com/", "events": []}, "invalid_value", "events"),
    ({"url": "https://hooks.example.com/", "events": ["call.exploded"]}, "invalid_value", "events"),
    ({"url": "https://hooks.example.com/", "events": ["*", "call.queued"]}, "invalid_value", "events"),
    ({"url": "https://hooks.example.com/", "events": "call.queued"}, "invalid_type", "events"),
    ({"url": "https://hooks.example.com/", "enabled": "yes"}, "invalid_type", "enabled"),
    ({"url": "https://hooks.example.com/", "secret": "whsec_mine"}, "unknown_field", "secret"),
])
def test_bad_create_input_is_a_400_with_code_and_param(api: Any, body: dict, code: Any, param: str) -> None:
    response = api.post("/v1/webhook_endpoints", json=body)
    if code is None:  # the local stack admits http (CALLINGBOX_ALLOW_INSECURE_URLS); production does not
        assert response.status_code == 200
        return
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", code, param)


@pytest.mark.parametrize("body, code, param", [
    ({"url": None}, "invalid_value", "url"),
    ({"events": None}, "invalid_value", "events"),
    ({"enabled": None}, "invalid_value", "enabled"),
    ({"url": "https://10.1.1.1/"}, "url_not_allowed", "url"),
    ({"rotate_secret": "yes"}, "invalid_type", "rotate_secret"),
    ({"object": "x"}, "unknown_field", "object"),
])
def test_bad_update_input_is_a_400_with_code_and_param(api: Any, body: dict, code: str, param: str) -> None:
    endpoint = _create(api)
    response = api.patch(f"/v1/webhook_endpoints/{endpoint['id']}", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == (code, param)


def test_loopback_and_http_need_the_local_opt_in() -> None:
    from callingbox.core.errors import InvalidRequest
    from callingbox.core.scope import Scope
    from callingbox.core.settings import Settings
    from callingbox.core.webhook_endpoints import create_endpoint

    production = Scope("ws_none", Settings(allow_insecure_urls=False))
    for url in ("http://hooks.example.com/", "https://127.0.0.1/x", "https://localhost/x"):
        with pytest.raises(InvalidRequest) as refused:
            create_endpoint(production, {"url": url})
        assert refused.value.param == "url"


def test_a_workspace_has_a_bounded_number_of_endpoints(api: Any) -> None:
    for _ in range(MAX_ENDPOINTS):
        _create(api)
    response = api.post("/v1/webhook_endpoints", json={"url": "https://hooks.example.com/17"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "endpoint_limit_reached"
