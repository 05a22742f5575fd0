"""Request bodies to typed params, with every failure named by ``code`` and ``param``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping, TypeVar

from .errors import InvalidRequest

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

__all__ = ["parse_json", "parse_params", "error_for"]

P = TypeVar("P", bound="BaseModel")

_TYPE_ERRORS = {
    "string_type", "int_type", "int_parsing", "float_type", "float_parsing", "bool_type", "bool_parsing",
    "dict_type", "list_type", "model_type", "model_attributes_type", "int_from_float", "literal_error",
    "enum", "none_required", "string_sub_type",
}


def parse_json(raw: bytes | str | None) -> Any:
    """The decoded body; malformed JSON is a 400 ``invalid_json``."""
    if raw is None or raw == b"" or raw == "":
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidRequest(f"the request body is not valid JSON: {error}", code="invalid_json") from None
    except RecursionError:
        raise InvalidRequest("the request body nests too deeply", code="invalid_json") from None


def _param(location: tuple[Any, ...]) -> str | None:
    parts = [str(part) for part in location if part not in ("function-after", "function-before")]
    return ".".join(parts) or None


def error_for(error: "ValidationError", *, model: "type[BaseModel]") -> InvalidRequest:
    """The first validation failure as an :class:`InvalidRequest` (what the client fixes first)."""
    first = error.errors(include_url=False)[0]
    kind = first["type"]
    param = _param(first["loc"])
    context: Mapping[str, Any] = first.get("ctx") or {}
    message = str(first["msg"])
    if kind == "field_rule":
        param = str(context.get("param") or param)
        return InvalidRequest(message, code="invalid_value", param=param)
    if kind == "extra_forbidden":
        return InvalidRequest(f"unknown field {param!r}", code="unknown_field", param=param)
    if kind == "missing":
        return InvalidRequest(f"{param} is required", code="missing_field", param=param)
    if kind in _TYPE_ERRORS:
        return InvalidRequest(f"{param}: {message}", code="invalid_type", param=param)
    if kind == "model_attributes_type" or (kind == "dict_type" and param is None):
        return InvalidRequest("the request body must be a JSON object", code="invalid_body")
    return InvalidRequest(f"{param}: {message}" if param else message, code="invalid_value", param=param)


def parse_params(model: type[P], body: Any) -> P:
    """``body`` validated as ``model``: unknown fields rejected, and JSON types taken as sent
    (``"yes"`` is not a boolean, ``"10"`` is not an integer)."""
    # pydantic is imported by the first request that validates a body: reads never load it.
    from pydantic import ValidationError

    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object", code="invalid_body")
    try:
        return model.model_validate(body, strict=True)
    except ValidationError as error:
        raise error_for(error, model=model) from None
