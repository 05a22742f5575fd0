"""Retries, backoff, ``Retry-After``, ``X-Should-Retry`` and idempotency keys."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest
from sdk_harness import SDK, agent_json, call_json, error, ok

from callingbox import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    RateLimitError,
)
from callingbox._base_client import BaseClient
from callingbox._constants import INITIAL_RETRY_DELAY, MAX_RETRY_AFTER, MAX_RETRY_DELAY

pytestmark = pytest.mark.anyio


def create_call(client):  # the POST most tests retry
    return client.calls.create(agent_id="agent_1", to="+14155550123")


async def test_server_error_is_retried_with_the_same_idempotency_key(sdk: SDK) -> None:
    # GIVEN two failures then a success
    sdk.server.reply(error(500, "internal_error"), error(503, "service_unavailable"), ok(call_json()))
    # WHEN a call is created
    call = await sdk.run(create_call)
    # THEN three attempts were made with one key, and the waits grew with jitter
    assert call.id == "call_1"
    keys = {request.headers["Idempotency-Key"] for request in sdk.server.requests}
    assert len(sdk.server.requests) == 3 and len(keys) == 1
    assert keys.pop().startswith("cbk_")
    first, second = sdk.client.sleeps
    assert 0.75 * INITIAL_RETRY_DELAY <= first <= INITIAL_RETRY_DELAY
    assert 0.75 * 2 * INITIAL_RETRY_DELAY <= second <= 2 * INITIAL_RETRY_DELAY


async def test_each_logical_call_gets_its_own_key(sdk: SDK) -> None:
    sdk.server.reply(ok(call_json()), ok(call_json()))
    await sdk.run(create_call)
    await sdk.run(create_call)
    first, second = (request.headers["Idempotency-Key"] for request in sdk.server.requests)
    assert first != second


async def test_caller_supplied_idempotency_key_is_used_on_every_attempt(sdk: SDK) -> None:
    sdk.server.reply(error(502, "bad_gateway"), ok(call_json()))
    await sdk.run(lambda c: c.calls.create(agent_id="agent_1", to="+14155550123", idempotency_key="order-42"))
    assert [r.headers["Idempotency-Key"] for r in sdk.server.requests] == ["order-42", "order-42"]


async def test_idempotency_key_in_extra_headers_is_kept(sdk: SDK) -> None:
    sdk.server.reply(ok(call_json()))
    await sdk.run(lambda c: c.calls.cancel("call_1", extra_headers={"idempotency-key": "mine"}))
    assert sdk.server.last.headers.get_list("Idempotency-Key") == ["mine"]


@pytest.mark.parametrize(
    "action",
    [
        lambda c: c.agents.update("agent_1", name="x"),
        lambda c: c.agents.detach_number("agent_1", number_id="pn_1"),
        lambda c: c.agents.archive("agent_1"),
    ],
    ids=["patch", "delete", "post-without-body"],
)
async def test_patch_delete_and_post_get_a_key(sdk: SDK, action) -> None:
    sdk.server.reply(ok(agent_json()))
    await sdk.run(action)
    assert sdk.server.last.headers["Idempotency-Key"].startswith("cbk_")


async def test_get_gets_no_idempotency_key(sdk: SDK) -> None:
    sdk.server.reply(ok(agent_json()))
    await sdk.run(lambda c: c.agents.retrieve("agent_1"))
    assert "Idempotency-Key" not in sdk.server.last.headers


async def test_retry_after_seconds_is_obeyed(sdk: SDK) -> None:
    sdk.server.reply(error(429, "rate_limited", headers={"Retry-After": "3"}), ok(agent_json()))
    await sdk.run(lambda c: c.agents.retrieve("agent_1"))
    assert sdk.client.sleeps == [3.0]


async def test_retry_after_beyond_the_cap_falls_back_to_backoff(sdk: SDK) -> None:
    too_long = str(int(MAX_RETRY_AFTER) + 1)
    sdk.server.reply(error(429, "rate_limited", headers={"Retry-After": too_long}), ok(agent_json()))
    await sdk.run(lambda c: c.agents.retrieve("agent_1"))
    assert sdk.client.sleeps[0] <= INITIAL_RETRY_DELAY


async def test_conflict_is_retried_by_default(sdk: SDK) -> None:
    sdk.server.reply(error(409, "conflict", headers={"Retry-After": "0"}), ok(agent_json()))
    agent = await sdk.run(lambda c: c.agents.attach_number("agent_1", number_id="pn_1"))
    assert agent.id == "agent_1" and len(sdk.server.requests) == 2


async def test_should_retry_false_stops_a_retryable_status(sdk: SDK) -> None:
    # GIVEN a permanent conflict: the number is answered by another agent
    sdk.server.reply(error(409, "number_in_use", param="number_id", headers={"X-Should-Retry": "false"}))
    # WHEN attaching THEN it fails at once
    with pytest.raises(ConflictError) as excinfo:
        await sdk.run(lambda c: c.agents.attach_number("agent_1", number_id="pn_1"))
    assert excinfo.value.code == "number_in_use"
    assert len(sdk.server.requests) == 1 and sdk.client.sleeps == []


async def test_should_retry_true_retries_any_status(sdk: SDK) -> None:
    sdk.server.reply(error(400, "not_ready", headers={"X-Should-Retry": "true", "Retry-After": "0"}), ok(agent_json()))
    await sdk.run(lambda c: c.agents.retrieve("agent_1"))
    assert len(sdk.server.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_not_retried(sdk: SDK, status: int) -> None:
    sdk.server.reply(error(status, "nope"))
    with pytest.raises(APIStatusError) as excinfo:
        await sdk.run(lambda c: c.agents.retrieve("agent_1"))
    assert excinfo.value.status_code == status
    assert len(sdk.server.requests) == 1


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
async def test_retryable_statuses_give_up_after_max_retries(sdk: SDK, status: int) -> None:
    sdk.server.default = error(status, "try_again")
    with pytest.raises(APIStatusError) as excinfo:
        await sdk.run(lambda c: c.agents.retrieve("agent_1"))
    assert excinfo.value.status_code == status
    assert len(sdk.server.requests) == 3  # one attempt and DEFAULT_MAX_RETRIES retries
    assert len(sdk.client.sleeps) == 2


async def test_max_retries_per_request_and_per_client(sdk: SDK) -> None:
    sdk.server.default = error(500, "boom")
    with pytest.raises(InternalServerError):
        await sdk.run(lambda c: c.agents.retrieve("agent_1", max_retries=0))
    assert len(sdk.server.requests) == 1
    client = sdk.make(max_retries=4)
    with pytest.raises(InternalServerError):
        await sdk.run(lambda c: c.agents.retrieve("agent_1"), client)
    assert len(sdk.server.requests) == 1 + 5


async def test_rate_limit_surfaces_after_retries(sdk: SDK) -> None:
    sdk.server.default = error(429, "rate_limited", headers={"Retry-After": "1"})
    with pytest.raises(RateLimitError):
        await sdk.run(lambda c: c.agents.retrieve("agent_1"))
    assert sdk.client.sleeps == [1.0, 1.0]


async def test_connection_errors_are_retried_with_the_same_key(sdk: SDK) -> None:
    sdk.server.reply(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), ok(call_json()))
    call = await sdk.run(create_call)
    assert call.id == "call_1"
    assert len({r.headers["Idempotency-Key"] for r in sdk.server.requests}) == 1
    assert len(sdk.client.sleeps) == 2


async def test_connection_error_surfaces_after_retries(sdk: SDK) -> None:
    sdk.server.default = httpx.ConnectError("refused")
    with pytest.raises(APIConnectionError) as excinfo:
        await sdk.run(lambda c: c.agents.retrieve("agent_1"))
    assert not isinstance(excinfo.value, APITimeoutError)
    assert excinfo.value.request is not None
    assert len(sdk.server.requests) == 3


async def test_timeout_surfaces_as_api_timeout_error(sdk: SDK) -> None:
    sdk.server.default = httpx.ReadTimeout("slow")
    with pytest.raises(APITimeoutError):
        await sdk.run(lambda c: c.agents.retrieve("agent_1", max_retries=1))
    assert len(sdk.server.requests) == 2


async def test_bad_request_is_raised_immediately(sdk: SDK) -> None:
    sdk.server.reply(error(400, "invalid_value", param="to"))
    with pytest.raises(BadRequestError):
        await sdk.run(create_call)
    assert sdk.client.sleeps == []


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    for retries_taken in range(8):
        delay = BaseClient._retry_delay(retries_taken)
        ceiling = min(INITIAL_RETRY_DELAY * 2**retries_taken, MAX_RETRY_DELAY)
        assert 0.75 * ceiling <= delay <= ceiling


def test_retry_after_as_http_date() -> None:
    when = email.utils.formatdate(time.time() + 10, usegmt=True)
    delay = BaseClient._retry_delay(0, httpx.Headers({"Retry-After": when}))
    assert 8 <= delay <= 10


def test_unparseable_retry_after_falls_back_to_backoff() -> None:
    assert BaseClient._retry_delay(0, httpx.Headers({"Retry-After": "soon"})) <= INITIAL_RETRY_DELAY
