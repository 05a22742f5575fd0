"""SIGTERM: no new streams, live calls finish (up to the drain time), then the process exits."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from callingbox.local.aws import free_port
from streaming_fargate.server import Gateway
from tests.gateway.fakes import (
    FakeEngines,
    FakeLlm,
    FakeStt,
    TwilioClient,
    eventually,
    gateway_settings,
    place_call,
    running_gateway,
    stream_token,
    voiced_ulaw,
)

pytestmark = pytest.mark.integration


def test_sigterm_refuses_new_streams_and_lets_a_live_call_finish(api: Any, workspace: Any) -> None:
    call_id = place_call(api)
    engines = FakeEngines(stt=FakeStt(["are you still there"]), llm=FakeLlm("Yes, I am here."))

    async def scenario() -> None:
        gateway = Gateway(gateway_settings(drain_seconds=30), engines=lambda snapshot: engines)
        serving = asyncio.ensure_future(gateway.serve())
        await eventually(lambda: signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None))
        url = f"ws://127.0.0.1:{gateway.port}/media"
        async with TwilioClient(url, token=stream_token(workspace.id, call_id)) as client:
            await eventually(lambda: gateway.conversations)
            os.kill(os.getpid(), signal.SIGTERM)
            await eventually(lambda: gateway.draining)
            with pytest.raises(OSError):  # the listening socket is closed: no new stream
                async with TwilioClient(url, token=stream_token(workspace.id, call_id)):
                    pass
            # the live call goes on: a whole turn after the SIGTERM
            spoke = await client.say(voiced_ulaw(0.5))
            await client.wait_for(lambda: client.first("mark", after=spoke), 5)
            await client.played_out()
            assert not serving.done()
        await asyncio.wait_for(serving, 10)  # once the last call ended, the server stops

    asyncio.run(scenario())
    call = api.get(f"/v1/calls/{call_id}").json()
    assert (call["status"], call["end_reason"]) == ("completed", "caller_hangup")


def test_calls_still_running_when_the_drain_time_is_over_end_as_failed(api: Any, workspace: Any) -> None:
    call_id = place_call(api)

    async def scenario() -> None:
        async with running_gateway(FakeEngines()) as gateway:
            async with TwilioClient(gateway.url, token=stream_token(workspace.id, call_id)) as client:
                await eventually(lambda: gateway.conversations)
                began = time.monotonic()
                await gateway.drain(timeout=0.3)
                await client.wait_closed(5)
                assert client.close_code == 1001 and time.monotonic() - began < 5

    asyncio.run(scenario())
    call = api.get(f"/v1/calls/{call_id}").json()
    assert (call["status"], call["end_reason"]) == ("failed", "error:gateway_shutdown")


def test_python_m_streaming_fargate_serves_health_and_exits_on_sigterm() -> None:
    port = free_port()
    env = {**os.environ, "CALLINGBOX_STREAM_TOKEN_SECRET": "secret", "CALLINGBOX_GATEWAY_HOST": "127.0.0.1",
           "CALLINGBOX_GATEWAY_PORT": str(port), "CALLINGBOX_GATEWAY_DRAIN_SECONDS": "5"}
    process = subprocess.Popen([sys.executable, "-m", "streaming_fargate"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "the gateway did not come up"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_python_m_streaming_fargate_refuses_to_start_without_the_stream_secret() -> None:
    env = {key: value for key, value in os.environ.items() if key != "CALLINGBOX_STREAM_TOKEN_SECRET"}
    result = subprocess.run([sys.executable, "-m", "streaming_fargate"], env=env, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2 and "CALLINGBOX_STREAM_TOKEN_SECRET" in result.stderr
