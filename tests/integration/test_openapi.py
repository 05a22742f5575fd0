"""The OpenAPI document: served, generated from the models, and committed up to date."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from callingbox.core.openapi import openapi_json
from callingbox.core.operations import OPERATIONS

ROOT = Path(__file__).resolve().parents[2]


def test_committed_openapi_json_is_current() -> None:
    committed = (ROOT / "openapi.json").read_text()
    assert committed == openapi_json(), "openapi.json is stale: run `make openapi` and commit it"


def test_served_without_a_key(local_stack: Any) -> None:
    import httpx

    response = httpx.get(f"{local_stack.api_url}/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert document == json.loads(openapi_json())


def test_every_operation_is_documented_and_served(local_stack: Any) -> None:
    document = json.loads(openapi_json())
    documented = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    assert documented == {(op.path, op.method) for op in OPERATIONS}
    from callingbox.local.stack import load_api_app

    routes = load_api_app().routes
    served = {(path, method) for path, methods in routes.items() for method in methods}
    # The carrier's webhooks share the app but are not the public API (signed by the carrier, no key).
    carrier = {(path, method) for path, method in served if path.startswith("/twilio/")}
    assert carrier and all(method == "POST" for _, method in carrier)
    assert served - carrier == documented


def test_request_models_forbid_unknown_fields() -> None:
    schemas = json.loads(openapi_json())["components"]["schemas"]
    assert schemas["CallCreateParams"]["additionalProperties"] is False
    assert schemas["AgentCreateParams"]["required"] == ["name", "type"]
