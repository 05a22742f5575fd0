"""The gateway publishes its live-call count (``ActiveCalls``) as CloudWatch EMF on stdout, with
exactly the names the deployment's autoscaling reads (``infra/metrics.py``)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import pytest

from callingbox.core.observability import ACTIVE_CALLS_METRIC, NAMESPACE
from tests.gateway.fakes import (
    FakeEngines,
    MemoryCallStore,
    TwilioClient,
    eventually,
    gateway_settings,
    memory_call,
    running_gateway,
    stream_token,
)

INTERVAL_S = 0.05


@pytest.fixture(autouse=True)
def metrics_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)


class Published:
    """The ``ActiveCalls`` values printed so far (every EMF line of that metric is checked whole)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys
        self.values: list[float] = []

    def read(self) -> list[float]:
        for line in self._capsys.readouterr().out.splitlines():
            try:
                document = json.loads(line)
            except ValueError:
                continue
            if not isinstance(document, dict) or ACTIVE_CALLS_METRIC not in document:
                continue
            [directive] = document["_aws"]["CloudWatchMetrics"]
            assert directive == {"Namespace": NAMESPACE, "Dimensions": [["service"]],
                                 "Metrics": [{"Name": ACTIVE_CALLS_METRIC, "Unit": "Count"}]}
            assert document["service"] == "callingbox-gateway"
            [value] = document[ACTIVE_CALLS_METRIC]  # Powertools writes a metric's values as a list
            self.values.append(value)
        return self.values


def test_the_live_call_count_is_published_on_start_and_on_every_interval(capsys: pytest.CaptureFixture[str]
                                                                         ) -> None:
    from infra.metrics import ACTIVE_CALLS, GATEWAY_SERVICE

    # What the autoscaling reads is what the gateway writes
    assert (ACTIVE_CALLS, GATEWAY_SERVICE) == (ACTIVE_CALLS_METRIC, "callingbox-gateway")
    store = MemoryCallStore()
    call_id = memory_call(store)
    published = Published(capsys)
    settings = replace(gateway_settings(), metrics_interval_seconds=INTERVAL_S)

    async def scenario() -> None:
        async with running_gateway(FakeEngines(), settings=settings, store=store) as gateway:
            # on start, with no call
            await eventually(lambda: published.read())
            assert published.values[0] == 0
            async with TwilioClient(gateway.url, token=stream_token("ws_bench", call_id)):
                await eventually(lambda: gateway.conversations)
                # while the call runs: 1
                await eventually(lambda: 1 in published.read(), 5)
            await eventually(lambda: not gateway.conversations, 5)
            seen = len(published.read())
            # and back to 0 once it is over
            await eventually(lambda: published.read()[seen:] and published.values[-1] == 0, 5)
        # the drain stops the publishing
        stopped_at = len(published.read())
        await asyncio.sleep(INTERVAL_S * 4)
        assert len(published.read()) == stopped_at

    asyncio.run(scenario())


def test_a_metrics_failure_never_breaks_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    import streaming_fargate.server as server

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("stdout is gone")

    monkeypatch.setattr(server, "emit_metric", broken)

    async def scenario() -> None:
        async with running_gateway(FakeEngines(), store=MemoryCallStore()) as gateway:
            assert gateway.publish_active_calls() == 0

    asyncio.run(scenario())


def test_an_interval_of_zero_publishes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    # The local stack's setting: a developer's program sharing stdout with the stack sees only its own
    # output (a seed snippet printing an agent id once read an EMF line first).
    store = MemoryCallStore()
    call_id = memory_call(store)
    published = Published(capsys)
    settings = replace(gateway_settings(), metrics_interval_seconds=0)

    async def scenario() -> None:
        async with running_gateway(FakeEngines(), settings=settings, store=store) as gateway:
            async with TwilioClient(gateway.url, token=stream_token("ws_bench", call_id)):
                await eventually(lambda: gateway.conversations)
                await asyncio.sleep(INTERVAL_S * 4)
        assert published.read() == []

    asyncio.run(scenario())


def test_the_local_stack_gateway_does_not_publish() -> None:
    from callingbox.local.gateway import start_local_gateway

    local = start_local_gateway({"CALLINGBOX_STREAM_TOKEN_SECRET": "s" * 32})
    try:
        assert local.gateway.settings.metrics_interval_seconds == 0
    finally:
        local.stop(drain_s=0.5)
