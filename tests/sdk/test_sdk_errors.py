"""Error mapping: one class per status, request ids first in the message, the tree as drawn."""

from __future__ import annotations

import httpx
import pytest
from sdk_harness import SDK, error, ok

import callingbox
from callingbox import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CallingboxError,
    ConflictError,
    IdempotencyError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from callingbox._exceptions import make_status_error

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "invalid_value", BadRequestError),
        (401, "invalid_api_key", AuthenticationError),
        (403, "forbidden", PermissionDeniedError),
        (404, "resource_missing", NotFoundError),
        (409, "conflict", ConflictError),
        (409, "idempotency_key_reused", IdempotencyError),
        (422, "unprocessable", UnprocessableEntityError),
        (429, "rate_limited", RateLimitError),
        (500, "internal_error", InternalServerError),
        (501, "not_implemented", InternalServerError),
        (503, "service_unavailable", InternalServerError),
        (418, "teapot", APIStatusError),
    ],
)
def test_status_and_code_map_to_one_class(status: int, code: str, expected: type) -> None:
    body = {"error": {"type": "invalid_request_error", "code": code, "message": "m", "param": None}}
    assert type(make_status_error(status, body)) is expected


def test_idempotency_error_is_a_conflict() -> None:
    assert issubclass(IdempotencyError, ConflictError)


def test_the_tree_matches_the_docstring() -> None:
    status_classes = [
        BadRequestError, AuthenticationError, PermissionDeniedError, NotFoundError, ConflictError,
        UnprocessableEntityError, RateLimitError, InternalServerError,
    ]
    assert all(issubclass(cls, APIStatusError) for cls in status_classes)
    assert issubclass(APIStatusError, APIError) and issubclass(APIError, CallingboxError)
    assert issubclass(APITimeoutError, APIConnectionError) and issubclass(APIConnectionError, APIError)
    assert not issubclass(APIConnectionError, APIStatusError)
    assert issubclass(APIResponseValidationError, APIError)
    documented = callingbox._exceptions.__doc__ or ""
    for cls in [*status_classes, IdempotencyError, APIConnectionError, APITimeoutError, APIResponseValidationError]:
        assert cls.__name__ in documented


async def test_error_carries_the_body_fields_and_starts_with_the_request_id(sdk: SDK) -> None:
    sdk.server.reply(error(400, "invalid_value", "must be an E.164 phone number", param="to", request_id="req_123"))
    with pytest.raises(BadRequestError) as excinfo:
        await sdk.run(lambda c: c.calls.create(agent_id="agent_1", to="555"))
    exc = excinfo.value
    assert str(exc) == "[req_123] 400 invalid_value (param: to): must be an E.164 phone number"
    assert (exc.status_code, exc.request_id, exc.type, exc.code, exc.param) == (
        400, "req_123", "invalid_request_error", "invalid_value", "to",
    )
    assert exc.message == "must be an E.164 phone number"
    assert exc.body["error"]["code"] == "invalid_value"
    assert exc.response is not None and exc.request is not None


async def test_request_id_header_wins_and_body_is_the_fallback(sdk: SDK) -> None:
    body = {"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "no such agent",
                      "param": None, "request_id": "req_body"}}
    sdk.server.reply(
        httpx.Response(404, json=body, headers={"Request-Id": "req_header"}), httpx.Response(404, json=body)
    )
    with pytest.raises(NotFoundError) as first:
        await sdk.run(lambda c: c.agents.retrieve("agent_9"))
    with pytest.raises(NotFoundError) as second:
        await sdk.run(lambda c: c.agents.retrieve("agent_9"))
    assert first.value.request_id == "req_header"
    assert second.value.request_id == "req_body"


async def test_non_json_error_body_still_maps(sdk: SDK) -> None:
    sdk.server.reply(httpx.Response(403, text="forbidden by proxy"))
    with pytest.raises(PermissionDeniedError) as excinfo:
        await sdk.run(lambda c: c.agents.retrieve("agent_1"))
    assert str(excinfo.value) == "403: forbidden by proxy"
    assert excinfo.value.request_id is None


async def test_success_without_json_is_a_validation_error(sdk: SDK) -> None:
    sdk.server.reply(httpx.Response(200, text="<html>oops</html>"))
    with pytest.raises(APIResponseValidationError):
        await sdk.run(lambda c: c.agents.retrieve("agent_1"))


async def test_success_of_the_wrong_shape_is_a_validation_error(sdk: SDK) -> None:
    sdk.server.reply(ok({"id": "agent_1"}))
    with pytest.raises(APIResponseValidationError, match="Agent"):
        await sdk.run(lambda c: c.agents.retrieve("agent_1"))
