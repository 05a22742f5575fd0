"""The OpenAPI 3.1 document, generated from the operation table and the public pydantic models."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from pydantic.json_schema import models_json_schema

from .. import types
from ..types import ErrorResponse
from .operations import OPERATIONS, Operation

__all__ = ["openapi_document", "openapi_json", "API_VERSION"]

API_VERSION = "2026-11-01"
_REF = "#/components/schemas/{model}"
_ERRORS = {
    "400": "Invalid request: malformed JSON, wrong type, unknown field, broken rule",
    "401": "Missing or invalid API key",
    "404": "No such resource in this workspace",
    "409": "Conflict with the current state (see X-Should-Retry)",
    "501": "Not provided by this deployment yet",
}


def _models() -> tuple[list[tuple[type, str]], set[type]]:
    pairs: list[tuple[type, str]] = [(ErrorResponse, "serialization")]
    for op in OPERATIONS:
        if op.body is not None:
            pairs.append((_model(op.body), "validation"))
        for name in (op.response, op.list_of):
            if name is not None:
                pairs.append((_model(name), "serialization"))
    unique: list[tuple[type, str]] = []
    for pair in pairs:
        if pair not in unique:
            unique.append(pair)
    return unique, {model for model, _ in unique}


def _model(name: str) -> type:
    return getattr(types, name)


def _ref(model: type | str) -> dict[str, str]:
    return {"$ref": _REF.format(model=model if isinstance(model, str) else model.__name__)}


def _list_schema(model: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["object", "data", "has_more"],
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": _ref(model)},
            "has_more": {"type": "boolean"},
            "next_cursor": {"type": ["string", "null"]},
        },
    }


def _operation(op: Operation) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{(\w+)\}", op.path)
    ]
    for param in op.query:
        schema: dict[str, Any] = {"type": param.type}
        if param.enum:
            schema["enum"] = list(param.enum)
        parameters.append({"name": param.name, "in": "query", "required": False, "schema": schema,
                           "description": param.description})
    if op.method == "POST" and op.authenticated:
        parameters.append({"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"},
                           "description": "Same key and body within 24 h returns the first response."})
    if op.list_of is not None:
        success: dict[str, Any] = _list_schema(op.list_of)
    elif op.response is not None:
        success = _ref(op.response)
    else:
        success = {"type": "object"}
    responses: dict[str, Any] = {"200": {"description": "OK", "content": {"application/json": {"schema": success}}}}
    for code, text in _ERRORS.items():
        responses[code] = {"description": text, "content": {"application/json": {"schema": _ref(ErrorResponse)}}}
    body: dict[str, Any] = {
        "operationId": op.id,
        "summary": op.summary,
        "tags": [op.tag] if op.tag else [],
        "parameters": parameters,
        "responses": responses,
    }
    if op.body is not None:
        body["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(op.body)}}}
    if not op.authenticated:
        body["security"] = []
    return body


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    """The whole document (built once per process)."""
    pairs, _ = _models()
    _, definitions = models_json_schema(pairs, ref_template=_REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CallingBox API",
            "version": API_VERSION,
            "description": "Self-hosted voice-AI calling: agents, phone numbers, calls and their structured results.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


def openapi_json() -> str:
    """The document as committed in ``openapi.json`` (stable key order, trailing newline)."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"
