"""Bad input over real HTTP: every endpoint that takes a body or a query refuses malformed, mistyped,
unknown, out-of-range and unsafe values with a 400 error object (never a 500), and writes nothing.

Each case checks the error object (non-empty ``type``/``code``/``message``, the expected ``code`` and
``param`` where the contract names them, ``request_id`` equal to the ``Request-Id`` header) and then
that nothing was written: the list the endpoint would add to (agents, calls, numbers, rules) or the
resource it would edit is read before and after the request and compared.

The cases share one workspace per module: they write nothing, and each compares its own before and
after.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

import httpx
import pytest

from tests.support import new_workspace

pytestmark = pytest.mark.integration


ANY = object()  # "do not check this part of the error"
NO_BODY = object()

# --- helpers -----------------------------------------------------------------------------------------


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def assert_refused(response: httpx.Response, *, status: Any = 400, code: Any = ANY, param: Any = ANY) -> dict:
    """The response is the documented error object; returns it."""
    assert response.status_code < 500, f"bad input gave a server error: {response.status_code} {response.text}"
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, response.text
    error = response.json()["error"]
    for name in ("type", "code", "message"):
        assert isinstance(error.get(name), str) and error[name], f"error.{name} is empty: {error}"
    assert "param" in error
    request_id = response.headers.get("Request-Id")
    assert request_id, "no Request-Id header"
    assert error.get("request_id") == request_id
    if code is not ANY:
        assert error["code"] == code, error
    if param is not ANY:
        assert error["param"] == param, error
    return error


@dataclass
class World:
    """A workspace holding an outbound agent (pn_abc123 and pn_xyz789), a filter rule and a queued call."""

    api: httpx.Client
    agent_id: str
    rule_id: str
    call_id: str

    @property
    def ids(self) -> dict[str, str]:
        return {"agent": self.agent_id, "rule": self.rule_id, "call": self.call_id}

    def read(self, paths: tuple[str, ...]) -> dict[str, Any]:
        """The current state of ``paths`` (GET urls with ``{agent}``-style placeholders)."""
        return {path: ok(self.api.get(path.format(**self.ids))) for path in paths}


def build_world(api: httpx.Client) -> World:
    agent = ok(api.post("/v1/agents", json={
        "name": "Reminders", "type": "outbound", "instructions": "Confirm the appointment.",
        "number_ids": ["pn_abc123", "pn_xyz789"], "primary_number_id": "pn_abc123", "metadata": {"team": "ops"},
    }))
    rule = ok(api.post("/v1/numbers/pn_abc123/rules", json={"exact_number": "+14155550177", "action": "block"}))
    call = ok(api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550188"}))
    return World(api, agent["id"], rule["id"], call["id"])


@pytest.fixture(scope="module")
def shared_world(local_stack: Any) -> Iterator[World]:
    """One workspace for every case that is expected to write nothing (created as conftest does)."""
    workspace = new_workspace(local_stack.api_url, "bad-input")
    with workspace.http() as client:
        yield build_world(client)


def send(world: World, method: str, path: str, *, body: Any = NO_BODY, raw: Optional[bytes] = None,
         params: Optional[dict[str, Any]] = None, headers: Optional[dict[str, str]] = None) -> httpx.Response:
    kwargs: dict[str, Any] = {"params": params, "headers": dict(headers or {})}
    if raw is not None:
        kwargs["content"] = raw
        kwargs["headers"].setdefault("Content-Type", "application/json")
    elif body is not NO_BODY:
        kwargs["json"] = body
    return world.api.request(method, path.format(**world.ids), **kwargs)


# --- the case table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    body: Any = NO_BODY
    raw: Optional[bytes] = None
    params: Optional[dict[str, Any]] = None
    headers: dict[str, str] = field(default_factory=dict)
    code: Any = ANY
    param: Any = ANY
    status: Any = 400

    @property
    def reads(self) -> tuple[str, ...]:
        """What the request could write: the list it would add to, or the resource it would edit."""
        if self.path.startswith("/v1/numbers/pn_abc123/rules"):
            return ("/v1/numbers/pn_abc123/rules", "/v1/numbers/pn_abc123/rules?status=deleted")
        if self.path.startswith("/v1/numbers/pn_abc123"):
            return ("/v1/numbers/pn_abc123",)
        if self.path == "/v1/numbers":
            return ("/v1/numbers?limit=100",)
        if self.path in ("/v1/calls", "/v1/agents/{agent}/calls"):
            return ("/v1/calls?limit=100",)
        if self.path.startswith("/v1/agents/{agent}"):
            return ("/v1/agents/{agent}",)
        if self.path == "/v1/agents":
            return ("/v1/agents?limit=100",)
        raise AssertionError(f"no read-back declared for {self.path}")


def case(case_id: str, method: str, path: str, **fields: Any) -> Any:
    return pytest.param(Case(method, path, **fields), id=case_id)


TWENTY_ONE_PAIRS = {f"key{i}": "value" for i in range(21)}
BAD_FULL_SCHEMA = {"type": "object", "properties": {"a": {"type": "nonsense"}}}
TOOLS = [{"name": "lookup", "description": "Look up a booking"}]
DEEP = b"[" * 50_000
A_CALL_CURSOR = base64.urlsafe_b64encode(b"call#call_0000000000").decode().rstrip("=")


def body_shape_cases(prefix: str, method: str, path: str) -> list[Any]:
    """Malformed JSON and non-object bodies, for any endpoint with a body."""
    return [
        case(f"{prefix}-malformed-json", method, path, raw=b"{bad", code="invalid_json"),
        case(f"{prefix}-json-array", method, path, raw=b'[{"name": "X"}]', code="invalid_body"),
        case(f"{prefix}-json-string", method, path, raw=b'"hello"', code="invalid_body"),
    ]


AGENT = {"name": "Bad", "type": "outbound"}

AGENT_CREATE = [
    *body_shape_cases("agents.create", "POST", "/v1/agents"),
    case("agents.create-json-number", "POST", "/v1/agents", raw=b"42", code="invalid_body"),
    case("agents.create-json-null", "POST", "/v1/agents", raw=b"null", code="invalid_body"),
    case("agents.create-not-utf8", "POST", "/v1/agents", raw=b'{"name": "\xc3\x28"}', code="invalid_json"),
    case("agents.create-deeply-nested-json", "POST", "/v1/agents", raw=DEEP, code="invalid_json"),
    case("agents.create-xml-content-type", "POST", "/v1/agents", raw=b'{"name": "X", "type": "outbound"}',
         headers={"Content-Type": "application/xml"}, status=415, code="unsupported_media_type",
         param="Content-Type"),
    case("agents.create-missing-name", "POST", "/v1/agents", body={"type": "outbound"},
         code="missing_field", param="name"),
    case("agents.create-missing-type", "POST", "/v1/agents", body={"name": "X"}, code="missing_field", param="type"),
    case("agents.create-empty-body", "POST", "/v1/agents", raw=b"{}", code="missing_field"),
    case("agents.create-unknown-type", "POST", "/v1/agents", body={**AGENT, "type": "sideways"}, param="type"),
    case("agents.create-name-null", "POST", "/v1/agents", body={**AGENT, "name": None}, param="name"),
    case("agents.create-name-empty", "POST", "/v1/agents", body={**AGENT, "name": ""}, param="name"),
    case("agents.create-name-number", "POST", "/v1/agents", body={**AGENT, "name": 7},
         code="invalid_type", param="name"),
    case("agents.create-unknown-field", "POST", "/v1/agents", body={**AGENT, "colour": "blue"},
         code="unknown_field", param="colour"),
    case("agents.create-threshold-string", "POST", "/v1/agents", body={**AGENT, "interruption_threshold": "high"},
         code="invalid_type", param="interruption_threshold"),
    case("agents.create-threshold-numeric-string", "POST", "/v1/agents",
         body={**AGENT, "interruption_threshold": "0.7"}, code="invalid_type", param="interruption_threshold"),
    case("agents.create-threshold-2", "POST", "/v1/agents", body={**AGENT, "interruption_threshold": 2},
         code="invalid_value", param="interruption_threshold"),
    case("agents.create-threshold-negative", "POST", "/v1/agents", body={**AGENT, "interruption_threshold": -0.1},
         code="invalid_value", param="interruption_threshold"),
    case("agents.create-context-window-0", "POST", "/v1/agents", body={**AGENT, "context_window": 0},
         code="invalid_value", param="context_window"),
    case("agents.create-context-window-fraction", "POST", "/v1/agents", body={**AGENT, "context_window": 2.5},
         code="invalid_type", param="context_window"),
    case("agents.create-context-window-string", "POST", "/v1/agents", body={**AGENT, "context_window": "10"},
         code="invalid_type", param="context_window"),
    case("agents.create-max-duration-0", "POST", "/v1/agents", body={**AGENT, "max_duration_seconds": 0},
         code="invalid_value", param="max_duration_seconds"),
    case("agents.create-record-yes", "POST", "/v1/agents", body={**AGENT, "record": "yes"},
         code="invalid_type", param="record"),
    case("agents.create-record-list", "POST", "/v1/agents", body={**AGENT, "record": [True]},
         code="invalid_type", param="record"),
    case("agents.create-voicemail-action-unknown", "POST", "/v1/agents", body={**AGENT, "voicemail_action": "beep"},
         param="voicemail_action"),
    case("agents.create-language-not-bcp47", "POST", "/v1/agents", body={**AGENT, "language": "english please"},
         code="invalid_value", param="language"),
    case("agents.create-metadata-list", "POST", "/v1/agents", body={**AGENT, "metadata": ["a", "b"]},
         code="invalid_type", param="metadata"),
    case("agents.create-metadata-int-value", "POST", "/v1/agents", body={**AGENT, "metadata": {"a": 1}},
         code="invalid_type", param="metadata.a"),
    case("agents.create-metadata-21-pairs", "POST", "/v1/agents", body={**AGENT, "metadata": TWENTY_ONE_PAIRS},
         code="invalid_value", param="metadata"),
    case("agents.create-number-ids-string", "POST", "/v1/agents", body={**AGENT, "number_ids": "pn_abc123"},
         code="invalid_type", param="number_ids"),
    case("agents.create-number-ids-repeated", "POST", "/v1/agents",
         body={**AGENT, "number_ids": ["pn_abc123", "pn_abc123"]}, code="invalid_value", param="number_ids"),
    case("agents.create-primary-not-in-numbers", "POST", "/v1/agents",
         body={**AGENT, "number_ids": ["pn_abc123"], "primary_number_id": "pn_xyz789"},
         code="invalid_value", param="primary_number_id"),
    case("agents.create-unknown-number", "POST", "/v1/agents", body={**AGENT, "number_ids": ["pn_missing"]},
         status=404, code="resource_missing", param="number_id"),
    case("agents.create-returns-string", "POST", "/v1/agents", body={**AGENT, "returns": "boolean"},
         code="invalid_type", param="returns"),
    case("agents.create-returns-unknown-type-str", "POST", "/v1/agents", body={**AGENT, "returns": {"ok": "str"}},
         code="invalid_schema", param="returns.ok"),
    case("agents.create-returns-empty-enum", "POST", "/v1/agents", body={**AGENT, "returns": {"outcome": []}},
         code="invalid_schema", param="returns.outcome"),
    case("agents.create-returns-enum-not-strings", "POST", "/v1/agents", body={**AGENT, "returns": {"n": [1, 2]}},
         code="invalid_schema", param="returns.n"),
    case("agents.create-returns-nested-object-shorthand", "POST", "/v1/agents",
         body={**AGENT, "returns": {"a": {"type": "string"}}}, code="invalid_schema", param="returns.a"),
    case("agents.create-returns-no-fields", "POST", "/v1/agents", body={**AGENT, "returns": {}},
         code="invalid_schema", param="returns"),
    case("agents.create-returns-bad-field-name", "POST", "/v1/agents", body={**AGENT, "returns": {"a b": "string"}},
         code="invalid_schema", param="returns.a b"),
    case("agents.create-returns-bad-full-schema", "POST", "/v1/agents", body={**AGENT, "returns": BAD_FULL_SCHEMA},
         code="invalid_schema", param="returns"),
    case("agents.create-tools-not-list", "POST", "/v1/agents",
         body={**AGENT, "tools": {"name": "lookup"}, "tool_url": "https://tools.example.com/hook"},
         code="invalid_type", param="tools"),
    case("agents.create-tools-item-string", "POST", "/v1/agents",
         body={**AGENT, "tools": ["lookup"], "tool_url": "https://tools.example.com/hook"},
         code="invalid_type", param="tools.0"),
    case("agents.create-tools-bad-name", "POST", "/v1/agents",
         body={**AGENT, "tools": [{"name": "look up!"}], "tool_url": "https://tools.example.com/hook"},
         code="invalid_value", param="tools.0.name"),
    case("agents.create-tools-duplicate-names", "POST", "/v1/agents",
         body={**AGENT, "tools": TOOLS * 2, "tool_url": "https://tools.example.com/hook"},
         code="invalid_value", param="tools"),
    case("agents.create-tools-bad-parameters-schema", "POST", "/v1/agents",
         body={**AGENT, "tools": [{"name": "lookup", "parameters": {"type": "nonsense"}}],
               "tool_url": "https://tools.example.com/hook"},
         code="invalid_schema", param="tools.0.parameters"),
    case("agents.create-tools-unknown-key", "POST", "/v1/agents",
         body={**AGENT, "tools": [{"name": "lookup", "url": "x"}], "tool_url": "https://tools.example.com/hook"},
         code="unknown_field", param="tools.0.url"),
    case("agents.create-tools-without-tool-url", "POST", "/v1/agents", body={**AGENT, "tools": TOOLS},
         code="invalid_value", param="tool_url"),
    case("agents.create-tool-url-ftp", "POST", "/v1/agents",
         body={**AGENT, "tools": TOOLS, "tool_url": "ftp://tools.example.com/hook"},
         code="invalid_url", param="tool_url"),
    case("agents.create-tool-url-no-scheme", "POST", "/v1/agents",
         body={**AGENT, "tools": TOOLS, "tool_url": "tools.example.com/hook"}, code="invalid_url", param="tool_url"),
    case("agents.create-tool-url-credentials", "POST", "/v1/agents",
         body={**AGENT, "tools": TOOLS, "tool_url": "https://user:pw@tools.example.com/hook"},
         code="invalid_url", param="tool_url"),
    case("agents.create-tool-url-metadata-ip", "POST", "/v1/agents",
         body={**AGENT, "tools": TOOLS, "tool_url": "https://169.254.169.254/latest/meta-data"},
         code="url_not_allowed", param="tool_url"),
    case("agents.create-webhook-url-metadata-ip", "POST", "/v1/agents",
         body={**AGENT, "webhook_url": "https://169.254.169.254/latest/meta-data"},
         code="url_not_allowed", param="webhook_url"),
    case("agents.create-webhook-url-private-ip", "POST", "/v1/agents",
         body={**AGENT, "webhook_url": "https://10.0.0.1/hook"}, code="url_not_allowed", param="webhook_url"),
    case("agents.create-webhook-url-ipv6-link-local", "POST", "/v1/agents",
         body={**AGENT, "webhook_url": "https://[fe80::1]/hook"}, code="url_not_allowed", param="webhook_url"),
    case("agents.create-webhook-url-broken-ipv6", "POST", "/v1/agents",
         body={**AGENT, "webhook_url": "https://[::1/hook"}, code="invalid_url", param="webhook_url"),
    case("agents.create-webhook-url-number", "POST", "/v1/agents", body={**AGENT, "webhook_url": 443},
         code="invalid_type", param="webhook_url"),
]

AGENT_UPDATE = [
    *body_shape_cases("agents.update", "PATCH", "/v1/agents/{agent}"),
    case("agents.update-deeply-nested-json", "PATCH", "/v1/agents/{agent}", raw=DEEP, code="invalid_json"),
    case("agents.update-type-inbound", "PATCH", "/v1/agents/{agent}", body={"type": "inbound"}, param="type"),
    case("agents.update-type-same-value", "PATCH", "/v1/agents/{agent}", body={"type": "outbound"}, param="type"),
    case("agents.update-unknown-field", "PATCH", "/v1/agents/{agent}", body={"colour": "blue"},
         code="unknown_field", param="colour"),
    case("agents.update-archived-field", "PATCH", "/v1/agents/{agent}", body={"archived": True},
         code="unknown_field", param="archived"),
    case("agents.update-name-null", "PATCH", "/v1/agents/{agent}", body={"name": None}, param="name"),
    case("agents.update-name-empty", "PATCH", "/v1/agents/{agent}", body={"name": ""}, param="name"),
    case("agents.update-threshold-string", "PATCH", "/v1/agents/{agent}", body={"interruption_threshold": "high"},
         code="invalid_type", param="interruption_threshold"),
    case("agents.update-threshold-2", "PATCH", "/v1/agents/{agent}", body={"interruption_threshold": 2},
         code="invalid_value", param="interruption_threshold"),
    case("agents.update-context-window-0", "PATCH", "/v1/agents/{agent}", body={"context_window": 0},
         code="invalid_value", param="context_window"),
    case("agents.update-record-yes", "PATCH", "/v1/agents/{agent}", body={"record": "yes"},
         code="invalid_type", param="record"),
    case("agents.update-record-object", "PATCH", "/v1/agents/{agent}", body={"record": {"on": True}},
         code="invalid_type", param="record"),
    case("agents.update-metadata-list", "PATCH", "/v1/agents/{agent}", body={"metadata": ["a"]},
         code="invalid_type", param="metadata"),
    case("agents.update-metadata-21-pairs", "PATCH", "/v1/agents/{agent}", body={"metadata": TWENTY_ONE_PAIRS},
         code="invalid_value", param="metadata"),
    case("agents.update-metadata-int-value", "PATCH", "/v1/agents/{agent}", body={"metadata": {"a": 1}},
         code="invalid_type", param="metadata.a"),
    case("agents.update-tools-not-list", "PATCH", "/v1/agents/{agent}",
         body={"tools": "lookup", "tool_url": "https://tools.example.com/hook"}, code="invalid_type", param="tools"),
    case("agents.update-tools-without-tool-url", "PATCH", "/v1/agents/{agent}", body={"tools": TOOLS},
         code="invalid_value", param="tool_url"),
    case("agents.update-tool-url-ftp", "PATCH", "/v1/agents/{agent}",
         body={"tools": TOOLS, "tool_url": "ftp://tools.example.com/hook"}, code="invalid_url", param="tool_url"),
    case("agents.update-webhook-url-metadata-ip", "PATCH", "/v1/agents/{agent}",
         body={"webhook_url": "https://169.254.169.254/latest/meta-data"}, code="url_not_allowed",
         param="webhook_url"),
    case("agents.update-webhook-url-private-ip", "PATCH", "/v1/agents/{agent}",
         body={"webhook_url": "https://10.0.0.1/hook"}, code="url_not_allowed", param="webhook_url"),
    case("agents.update-returns-unknown-type-str", "PATCH", "/v1/agents/{agent}", body={"returns": {"ok": "str"}},
         code="invalid_schema", param="returns.ok"),
    case("agents.update-returns-empty-enum", "PATCH", "/v1/agents/{agent}", body={"returns": {"outcome": []}},
         code="invalid_schema", param="returns.outcome"),
    case("agents.update-returns-bad-full-schema", "PATCH", "/v1/agents/{agent}", body={"returns": BAD_FULL_SCHEMA},
         code="invalid_schema", param="returns"),
    case("agents.update-primary-not-attached", "PATCH", "/v1/agents/{agent}", body={"primary_number_id": "pn_new"},
         code="invalid_value", param="primary_number_id"),
    case("agents.update-unknown-number", "PATCH", "/v1/agents/{agent}", body={"number_ids": ["pn_missing"]},
         status=404, code="resource_missing", param="number_id"),
]

ATTACH = "/v1/agents/{agent}/numbers"
PRIMARY = "/v1/agents/{agent}/primary_number"
AGENT_NUMBERS = [
    *body_shape_cases("agents.attach_number", "POST", ATTACH),
    case("agents.attach_number-missing-number-id", "POST", ATTACH, body={}, code="missing_field", param="number_id"),
    case("agents.attach_number-number-id-int", "POST", ATTACH, body={"number_id": 5},
         code="invalid_type", param="number_id"),
    case("agents.attach_number-number-id-empty", "POST", ATTACH, body={"number_id": ""}, param="number_id"),
    case("agents.attach_number-set-as-primary-yes", "POST", ATTACH, body={"number_id": "pn_new",
                                                                         "set_as_primary": "yes"},
         code="invalid_type", param="set_as_primary"),
    case("agents.attach_number-set-as-primary-list", "POST", ATTACH, body={"number_id": "pn_new",
                                                                          "set_as_primary": [True]},
         code="invalid_type", param="set_as_primary"),
    case("agents.attach_number-unknown-field", "POST", ATTACH, body={"number_id": "pn_new", "primary": True},
         code="unknown_field", param="primary"),
    case("agents.attach_number-unknown-number", "POST", ATTACH, body={"number_id": "pn_missing"},
         status=404, code="resource_missing", param="number_id"),
    *body_shape_cases("agents.set_primary_number", "POST", PRIMARY),
    case("agents.set_primary_number-missing-number-id", "POST", PRIMARY, body={},
         code="missing_field", param="number_id"),
    case("agents.set_primary_number-number-id-list", "POST", PRIMARY, body={"number_id": ["pn_xyz789"]},
         code="invalid_type", param="number_id"),
    case("agents.set_primary_number-unknown-field", "POST", PRIMARY, body={"number_id": "pn_xyz789", "x": 1},
         code="unknown_field", param="x"),
    case("agents.set_primary_number-not-attached", "POST", PRIMARY, body={"number_id": "pn_new"},
         param="number_id"),
]

NUMBER = "/v1/numbers/pn_abc123"
NUMBERS = [
    *body_shape_cases("numbers.create", "POST", "/v1/numbers"),
    case("numbers.create-neither-number-nor-import", "POST", "/v1/numbers", body={},
         code="invalid_value", param="number"),
    case("numbers.create-bad-e164", "POST", "/v1/numbers", body={"number": "415-555-0100"},
         code="invalid_value", param="number"),
    case("numbers.create-import-bad-e164", "POST", "/v1/numbers",
         body={"import": {"number": "4155550100", "carrier_sid": "PN1"}}, code="invalid_value",
         param="import.number"),
    case("numbers.create-import-e164-trailing-newline", "POST", "/v1/numbers",
         body={"import": {"number": "+14155550166\n", "carrier_sid": "PN1"}}, code="invalid_value",
         param="import.number"),
    case("numbers.create-import-missing-carrier-sid", "POST", "/v1/numbers",
         body={"import": {"number": "+14155550166"}}, code="missing_field", param="import.carrier_sid"),
    case("numbers.create-import-string", "POST", "/v1/numbers", body={"import": "+14155550166"},
         code="invalid_type", param="import"),
    case("numbers.create-import-unknown-field", "POST", "/v1/numbers",
         body={"import": {"number": "+14155550166", "carrier_sid": "PN1", "sid": "x"}},
         code="unknown_field", param="import.sid"),
    case("numbers.create-unknown-field", "POST", "/v1/numbers", body={"number": "+14155550166", "area_code": "415"},
         code="unknown_field", param="area_code"),
    *body_shape_cases("numbers.update", "PATCH", NUMBER),
    case("numbers.update-unknown-field", "PATCH", NUMBER, body={"number": "+14155550166"},
         code="unknown_field", param="number"),
    case("numbers.update-inbound-mode-unknown", "PATCH", NUMBER, body={"inbound_mode": "voicemail"},
         param="inbound_mode"),
    case("numbers.update-inbound-mode-null", "PATCH", NUMBER, body={"inbound_mode": None}, param="inbound_mode"),
    case("numbers.update-filter-mode-int", "PATCH", NUMBER, body={"filter_mode": 1}, param="filter_mode"),
    case("numbers.update-webhook-mode-without-url", "PATCH", NUMBER, body={"inbound_mode": "webhook"},
         code="missing_field", param="incoming_call_webhook_url"),
    case("numbers.update-webhook-url-metadata-ip", "PATCH", NUMBER,
         body={"inbound_mode": "webhook", "incoming_call_webhook_url": "https://169.254.169.254/latest"},
         code="url_not_allowed", param="incoming_call_webhook_url"),
    case("numbers.update-webhook-url-private-ip", "PATCH", NUMBER,
         body={"incoming_call_webhook_url": "https://10.0.0.1/route"}, code="url_not_allowed",
         param="incoming_call_webhook_url"),
    case("numbers.update-webhook-url-ftp", "PATCH", NUMBER,
         body={"incoming_call_webhook_url": "ftp://route.example.com/"}, code="invalid_url",
         param="incoming_call_webhook_url"),
]

RULES = "/v1/numbers/pn_abc123/rules"
RULE = "/v1/numbers/pn_abc123/rules/{rule}"
RULE_CASES = [
    *body_shape_cases("rules.create", "POST", RULES),
    case("rules.create-missing-exact-number", "POST", RULES, body={"action": "block"},
         code="missing_field", param="exact_number"),
    case("rules.create-missing-action", "POST", RULES, body={"exact_number": "+14155550166"},
         code="missing_field", param="action"),
    case("rules.create-bad-e164", "POST", RULES, body={"exact_number": "555-0166", "action": "block"},
         code="invalid_value", param="exact_number"),
    case("rules.create-e164-without-plus", "POST", RULES, body={"exact_number": "14155550166", "action": "block"},
         code="invalid_value", param="exact_number"),
    case("rules.create-e164-trailing-newline", "POST", RULES,
         body={"exact_number": "+14155550166\n", "action": "block"}, code="invalid_value", param="exact_number"),
    case("rules.create-e164-int", "POST", RULES, body={"exact_number": 14155550166, "action": "block"},
         code="invalid_type", param="exact_number"),
    case("rules.create-action-unknown", "POST", RULES, body={"exact_number": "+14155550166", "action": "mute"},
         param="action"),
    case("rules.create-status-deleted", "POST", RULES,
         body={"exact_number": "+14155550166", "action": "block", "status": "deleted"}, param="status"),
    case("rules.create-unknown-field", "POST", RULES,
         body={"exact_number": "+14155550166", "action": "block", "prefix": "+1415"},
         code="unknown_field", param="prefix"),
    *body_shape_cases("rules.update", "PATCH", RULE),
    case("rules.update-action-unknown", "PATCH", RULE, body={"action": "mute"}, param="action"),
    case("rules.update-action-null", "PATCH", RULE, body={"action": None}, param="action"),
    case("rules.update-status-deleted", "PATCH", RULE, body={"status": "deleted"}, param="status"),
    case("rules.update-exact-number", "PATCH", RULE, body={"exact_number": "+14155550166"},
         code="unknown_field", param="exact_number"),
    case("rules.update-unknown-field", "PATCH", RULE, body={"action": "allow", "note": "x"},
         code="unknown_field", param="note"),
]

CALL = {"agent_id": "{agent}", "to": "+14155550199"}  # "{agent}" is filled in by the test
CALLS = [
    *body_shape_cases("calls.create", "POST", "/v1/calls"),
    case("calls.create-deeply-nested-json", "POST", "/v1/calls", raw=DEEP, code="invalid_json"),
    case("calls.create-missing-to", "POST", "/v1/calls", body={"agent_id": "{agent}"},
         code="missing_field", param="to"),
    case("calls.create-missing-agent-id", "POST", "/v1/calls", body={"to": "+14155550199"},
         code="missing_field", param="agent_id"),
    case("calls.create-to-not-e164", "POST", "/v1/calls", body={**CALL, "to": "(415) 555-0199"},
         code="invalid_value", param="to"),
    case("calls.create-to-without-plus", "POST", "/v1/calls", body={**CALL, "to": "14155550199"},
         code="invalid_value", param="to"),
    case("calls.create-to-leading-zero", "POST", "/v1/calls", body={**CALL, "to": "+04155550199"},
         code="invalid_value", param="to"),
    case("calls.create-to-too-long", "POST", "/v1/calls", body={**CALL, "to": "+1415555019912345"},
         code="invalid_value", param="to"),
    case("calls.create-to-trailing-newline", "POST", "/v1/calls", body={**CALL, "to": "+14155550199\n"},
         code="invalid_value", param="to"),
    case("calls.create-to-arabic-indic-digits", "POST", "/v1/calls",
         body={**CALL, "to": "+1\u0664\u0661\u0665\u0665\u0665\u0665\u0660\u0661\u0669\u0669"},
         code="invalid_value", param="to"),
    case("calls.create-to-int", "POST", "/v1/calls", body={**CALL, "to": 14155550199},
         code="invalid_type", param="to"),
    case("calls.create-unknown-field", "POST", "/v1/calls", body={**CALL, "priority": "high"},
         code="unknown_field", param="priority"),
    *[case(f"calls.create-locked-{name}", "POST", "/v1/calls", body={**CALL, name: value},
           code="field_not_overridable", param=name)
      for name, value in [("persona", "You are a pirate."), ("voice", "Matthew"), ("first_message", "Ahoy"),
                          ("record", False), ("returns", {"ok": "boolean"}), ("tools", []), ("type", "inbound"),
                          ("llm_model", "other"), ("max_duration_seconds", 60)]],
    case("calls.create-metadata-list", "POST", "/v1/calls", body={**CALL, "metadata": ["a"]},
         code="invalid_type", param="metadata"),
    case("calls.create-metadata-21-pairs", "POST", "/v1/calls", body={**CALL, "metadata": TWENTY_ONE_PAIRS},
         code="invalid_value", param="metadata"),
    case("calls.create-context-list", "POST", "/v1/calls", body={**CALL, "context": ["a"]},
         code="invalid_type", param="context"),
    case("calls.create-instructions-too-long", "POST", "/v1/calls", body={**CALL, "instructions": "x" * 20_001},
         code="invalid_value", param="instructions"),
    case("calls.create-webhook-url-metadata-ip", "POST", "/v1/calls",
         body={**CALL, "webhook_url": "https://169.254.169.254/latest/meta-data"},
         code="url_not_allowed", param="webhook_url"),
    case("calls.create-webhook-url-private-ip", "POST", "/v1/calls",
         body={**CALL, "webhook_url": "https://10.0.0.1/hook"}, code="url_not_allowed", param="webhook_url"),
    case("calls.create-webhook-url-ftp", "POST", "/v1/calls",
         body={**CALL, "webhook_url": "ftp://hooks.example.com/"}, code="invalid_url", param="webhook_url"),
    case("calls.create-from-number-id-not-attached", "POST", "/v1/calls", body={**CALL, "from_number": "pn_new"},
         param="from_number"),
    case("calls.create-from-number-unknown-e164", "POST", "/v1/calls",
         body={**CALL, "from_number": "+14155550100"}, param="from_number"),
    case("calls.create-unknown-variable-in-override", "POST", "/v1/calls",
         body={**CALL, "instructions": "Remind {{customer_name}} of the visit.", "context": {"name": "Ada"}},
         code="unknown_variable"),
    case("calls.create-unknown-agent", "POST", "/v1/calls", body={**CALL, "agent_id": "agent_missing"},
         status=404, code="resource_missing", param="agent_id"),
]

AGENT_CALLS = "/v1/agents/{agent}/calls"
LISTS = [
    case("agents.list-limit-0", "GET", "/v1/agents", params={"limit": 0}, param="limit"),
    case("agents.list-limit-101", "GET", "/v1/agents", params={"limit": 101}, param="limit"),
    case("agents.list-limit-word", "GET", "/v1/agents", params={"limit": "ten"}, param="limit"),
    case("agents.list-limit-negative", "GET", "/v1/agents", params={"limit": -5}, param="limit"),
    case("agents.list-cursor-garbage", "GET", "/v1/agents", params={"cursor": "not-a-cursor"},
         code="invalid_cursor", param="cursor"),
    case("agents.list-cursor-of-calls-list", "GET", "/v1/agents", params={"cursor": A_CALL_CURSOR},
         code="invalid_cursor", param="cursor"),
    case("agents.list-type-unknown", "GET", "/v1/agents", params={"type": "sideways"}, param="type"),
    case("agents.list-archived-not-bool", "GET", "/v1/agents", params={"archived": "maybe"}, param="archived"),
    case("calls.list-limit-0", "GET", "/v1/calls", params={"limit": 0}, param="limit"),
    case("calls.list-limit-101", "GET", "/v1/calls", params={"limit": 101}, param="limit"),
    case("calls.list-limit-float", "GET", "/v1/calls", params={"limit": "2.5"}, param="limit"),
    case("calls.list-cursor-garbage", "GET", "/v1/calls", params={"cursor": "%%%"}, code="invalid_cursor",
         param="cursor"),
    case("calls.list-status-unknown", "GET", "/v1/calls", params={"status": "done"}, param="status"),
    case("calls.list-direction-unknown", "GET", "/v1/calls", params={"direction": "sideways"}, param="direction"),
    case("calls.list-created-after-word", "GET", "/v1/calls", params={"created_after": "yesterday"},
         param="created_after"),
    case("calls.list-created-before-negative", "GET", "/v1/calls", params={"created_before": "-1"},
         param="created_before"),
    case("calls.list-unknown-filter", "GET", "/v1/calls", params={"colour": "blue"}, param="colour"),
    case("agents.list_calls-limit-0", "GET", AGENT_CALLS, params={"limit": 0}, param="limit"),
    case("agents.list_calls-limit-101", "GET", AGENT_CALLS, params={"limit": 101}, param="limit"),
    case("agents.list_calls-cursor-garbage", "GET", AGENT_CALLS, params={"cursor": "not-a-cursor"},
         code="invalid_cursor", param="cursor"),
    case("agents.list_calls-status-unknown", "GET", AGENT_CALLS, params={"status": "done"}, param="status"),
    case("agents.list_calls-created-after-word", "GET", AGENT_CALLS, params={"created_after": "soon"},
         param="created_after"),
    case("numbers.list-limit-0", "GET", "/v1/numbers", params={"limit": 0}, param="limit"),
    case("numbers.list-limit-101", "GET", "/v1/numbers", params={"limit": 101}, param="limit"),
    case("numbers.list-cursor-garbage", "GET", "/v1/numbers", params={"cursor": "not-a-cursor"},
         code="invalid_cursor", param="cursor"),
    case("numbers.list-cursor-of-calls-list", "GET", "/v1/numbers", params={"cursor": A_CALL_CURSOR},
         code="invalid_cursor", param="cursor"),
    case("rules.list-status-unknown", "GET", RULES, params={"status": "gone"}, param="status"),
    case("rules.list-limit-0", "GET", RULES, params={"limit": 0}, param="limit"),
]

CASES = [*AGENT_CREATE, *AGENT_UPDATE, *AGENT_NUMBERS, *NUMBERS, *RULE_CASES, *CALLS, *LISTS]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
        return ids[value[1:-1]]
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    return value


@pytest.mark.parametrize("bad", CASES)
def test_bad_input_is_refused_and_writes_nothing(request: pytest.FixtureRequest, bad: Case) -> None:
    # GIVEN a workspace with an agent, a rule and a call, and what the request could change
    world: World = request.getfixturevalue("shared_world")
    before = world.read(bad.reads)

    # WHEN the bad request is sent
    response = send(world, bad.method, bad.path, body=_fill(bad.body, world.ids), raw=bad.raw, params=bad.params,
                    headers=bad.headers)

    # THEN it is refused with the error object, naming the code and the field at fault
    assert_refused(response, status=bad.status, code=bad.code, param=bad.param)
    # AND nothing was written: the list or the resource reads back exactly as before
    assert world.read(bad.reads) == before


# --- dispatch rules that need agents of their own ----------------------------------------------------


def _create_agent(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    return ok(api.post("/v1/agents", json={"name": "Special", **fields}))


def _calls(api: httpx.Client) -> list[dict[str, Any]]:
    return ok(api.get("/v1/calls", params={"limit": 100}))["data"]


def test_inbound_agent_places_no_calls(api: httpx.Client) -> None:
    # GIVEN an inbound agent answering a number
    agent = _create_agent(api, type="inbound", number_ids=["pn_new"])
    before = _calls(api)
    # WHEN a call is dispatched with it
    response = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550199"})
    # THEN it is refused as bad input naming the agent, and no call exists
    assert_refused(response, param="agent_id")
    assert _calls(api) == before
    assert ok(api.get(f"/v1/agents/{agent['id']}")) == agent


def test_inbound_agent_refuses_overrides_too(api: httpx.Client) -> None:
    # GIVEN an inbound agent
    agent = _create_agent(api, type="inbound", number_ids=["pn_new"])
    # WHEN a call is dispatched with it and a per-call override
    response = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550199", "instructions": "Hi"})
    # THEN it is still a 400 and nothing is written
    assert_refused(response)
    assert _calls(api) == []


@pytest.mark.parametrize("where", ["instructions", "persona", "first_message"])
@pytest.mark.parametrize("context", [None, {"name": "Ada"}, {"customer": {"first": "Ada"}}],
                         ids=["no-context", "other-key", "nested-without-key"])
def test_unknown_variable_is_refused_at_dispatch(api: httpx.Client, where: str, context: Any) -> None:
    # GIVEN an outbound agent whose stored text uses {{customer.name}}
    agent = _create_agent(api, type="outbound", number_ids=["pn_abc123"],
                          **{where: "Hello {{customer.name}}, this is the clinic."})
    body: dict[str, Any] = {"agent_id": agent["id"], "to": "+14155550199"}
    if context is not None:
        body["context"] = context
    # WHEN a call is dispatched whose context lacks that variable
    response = api.post("/v1/calls", json=body)
    # THEN it is a 400 unknown_variable (not a silent blank) and no call is stored
    assert_refused(response, code="unknown_variable")
    assert _calls(api) == []


def test_known_variable_dispatches(api: httpx.Client) -> None:
    # GIVEN the same kind of agent (the control case for the test above)
    agent = _create_agent(api, type="outbound", number_ids=["pn_abc123"],
                          instructions="Hello {{customer.name}}, this is the clinic.")
    # WHEN the context holds the variable
    call = ok(api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550199",
                                          "context": {"customer": {"name": "Ada"}}}))
    # THEN the call is queued with the placeholder filled
    assert call["status"] == "queued"
    assert call["agent_snapshot"]["instructions"] == "Hello Ada, this is the clinic."


@pytest.mark.parametrize("from_number", ["pn_new", "number-of-pn_new", "+14155550100", "pn_missing"],
                         ids=["attached-nowhere-id", "attached-nowhere-e164", "not-owned-e164", "unknown-id"])
def test_from_number_must_be_attached(api: httpx.Client, workspace: Any, from_number: str) -> None:
    # GIVEN an outbound agent holding pn_abc123 only
    agent = _create_agent(api, type="outbound", number_ids=["pn_abc123"])
    if from_number == "number-of-pn_new":
        from_number = workspace.numbers["pn_new"]
    # WHEN a call asks to go out from a number the agent does not hold
    response = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550199",
                                           "from_number": from_number})
    # THEN it is a 400 naming from_number, and no call exists
    assert_refused(response, param="from_number")
    assert _calls(api) == []


def test_agent_without_numbers_has_no_caller_id(api: httpx.Client) -> None:
    # GIVEN an outbound agent with no numbers at all
    agent = _create_agent(api, type="outbound")
    # WHEN a call is dispatched without from_number
    response = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550199"})
    # THEN it is a 400 no_caller_id and nothing is stored
    assert_refused(response, code="no_caller_id")
    assert _calls(api) == []


def test_archived_agent_takes_no_calls(api: httpx.Client) -> None:
    # GIVEN an outbound agent that has been archived
    agent = _create_agent(api, type="outbound", number_ids=["pn_abc123"])
    archived = ok(api.post(f"/v1/agents/{agent['id']}/archive"))
    assert archived["archived"] is True
    # WHEN a call is dispatched with it (with or without an explicit caller id)
    for body in ({}, {"from_number": "pn_abc123"}):
        response = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155550199", **body})
        # THEN it is a 400 agent_archived
        assert_refused(response, code="agent_archived")
    # AND no call exists and the agent is unchanged
    assert _calls(api) == []
    assert ok(api.get(f"/v1/agents/{agent['id']}")) == archived


@pytest.mark.parametrize("new_type", ["inbound", "outbound"])
def test_agent_type_is_fixed_at_creation(api: httpx.Client, new_type: str) -> None:
    # GIVEN an outbound agent
    agent = _create_agent(api, type="outbound", number_ids=["pn_abc123"])
    # WHEN its type is patched, alone or with a valid edit
    for body in ({"type": new_type}, {"type": new_type, "name": "Renamed"}):
        response = api.patch(f"/v1/agents/{agent['id']}", json=body)
        # THEN it is a 400 naming type
        assert_refused(response, param="type")
    # AND the agent is exactly as it was (the valid edit was not applied either)
    assert ok(api.get(f"/v1/agents/{agent['id']}")) == agent


def test_refused_post_with_idempotency_key_writes_nothing(api: httpx.Client) -> None:
    # GIVEN an empty workspace
    body = {"name": "X", "type": "outbound", "record": [1]}
    # WHEN a bad create is sent twice with the same Idempotency-Key
    first = api.post("/v1/agents", json=body, headers={"Idempotency-Key": "bad-input-1"})
    again = api.post("/v1/agents", json=body, headers={"Idempotency-Key": "bad-input-1"})
    # THEN the first is a 400 naming the field and the retry gets the same refusal
    error = assert_refused(first, code="invalid_type", param="record")
    assert again.status_code == 400
    replayed = again.json()["error"]
    assert {k: v for k, v in replayed.items() if k != "request_id"} == {
        k: v for k, v in error.items() if k != "request_id"}
    # AND there is still no agent
    assert ok(api.get("/v1/agents"))["data"] == []


def test_replayed_refusal_repeats_its_own_request_id(api: httpx.Client) -> None:
    # GIVEN a bad create already refused under an Idempotency-Key
    body = {"name": "X", "type": "outbound", "record": [1]}
    assert_refused(api.post("/v1/agents", json=body, headers={"Idempotency-Key": "bad-input-2"}))
    # WHEN it is retried with the same key
    again = api.post("/v1/agents", json=body, headers={"Idempotency-Key": "bad-input-2"})
    # THEN the error repeats the Request-Id of the response that carries it
    assert_refused(again, code="invalid_type", param="record")


def test_too_long_idempotency_key_is_refused(api: httpx.Client) -> None:
    # GIVEN an empty workspace
    # WHEN a valid create carries an Idempotency-Key over 255 characters
    response = api.post("/v1/agents", json={"name": "X", "type": "outbound"}, headers={"Idempotency-Key": "k" * 256})
    # THEN it is a 400 naming the header, and nothing was created
    assert_refused(response, param="Idempotency-Key")
    assert ok(api.get("/v1/agents"))["data"] == []
