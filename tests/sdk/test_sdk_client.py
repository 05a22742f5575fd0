"""Client construction, settings from the environment, headers and per-request options."""

from __future__ import annotations

import httpx
import pytest
from sdk_harness import API_KEY, BASE_URL, SDK, agent_json, ok

from callingbox import DEFAULT_TIMEOUT, AsyncCallingbox, Callingbox, CallingboxError

pytestmark = pytest.mark.anyio

CLIENTS = [Callingbox, AsyncCallingbox]


@pytest.mark.parametrize("client_class", CLIENTS)
def test_missing_api_key_names_the_argument_and_the_variable(client_class: type) -> None:
    # GIVEN no key in the arguments or the environment
    # WHEN a client is built THEN the error says both ways to provide it
    with pytest.raises(CallingboxError) as excinfo:
        client_class()
    assert "api_key" in str(excinfo.value)
    assert "CALLINGBOX_API_KEY" in str(excinfo.value)


@pytest.mark.parametrize("client_class", CLIENTS)
def test_settings_fall_back_to_the_environment(client_class: type, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLINGBOX_API_KEY", "sk_env")
    monkeypatch.setenv("CALLINGBOX_BASE_URL", "https://calls.example.com/")
    client = client_class()
    assert client.api_key == "sk_env"
    assert client.base_url == "https://calls.example.com"


@pytest.mark.parametrize("client_class", CLIENTS)
def test_arguments_win_over_the_environment(client_class: type, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLINGBOX_API_KEY", "sk_env")
    monkeypatch.setenv("CALLINGBOX_BASE_URL", "https://env.example.com")
    client = client_class("sk_arg", "https://arg.example.com")
    assert (client.api_key, client.base_url) == ("sk_arg", "https://arg.example.com")


@pytest.mark.parametrize("client_class", CLIENTS)
def test_defaults(client_class: type) -> None:
    client = client_class(api_key="sk")
    assert client.base_url == "http://127.0.0.1:8000"
    assert client.timeout == DEFAULT_TIMEOUT == 30.0
    assert client.max_retries == 2
    assert "sk" not in repr(client)


def test_http_client_must_match_the_client_flavour() -> None:
    with pytest.raises(TypeError):
        Callingbox(api_key="sk", http_client=httpx.AsyncClient())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        AsyncCallingbox(api_key="sk", http_client=httpx.Client())  # type: ignore[arg-type]


async def test_resources_are_cached_and_numbers_has_an_alias(sdk: SDK) -> None:
    client = sdk.client
    assert client.agents is client.agents
    assert client.calls is client.calls
    assert client.phone_numbers is client.numbers
    assert client.numbers.rules is client.numbers.rules


async def test_every_request_carries_auth_and_json_headers(sdk: SDK) -> None:
    sdk.server.reply(ok(agent_json()))
    await sdk.run(lambda c: c.agents.retrieve("agent_1"))
    request = sdk.server.last
    assert request.url == f"{BASE_URL}/v1/agents/agent_1"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("callingbox-python/")


async def test_request_headers_win_over_client_default_headers(sdk: SDK) -> None:
    client = sdk.make(default_headers={"X-Team": "billing", "X-Trace": "client"})
    sdk.server.reply(ok(agent_json()))
    await sdk.run(lambda c: c.agents.retrieve("agent_1", extra_headers={"X-Trace": "request"}), client)
    assert sdk.server.last.headers["X-Team"] == "billing"
    assert sdk.server.last.headers["X-Trace"] == "request"


async def test_timeout_is_set_per_request(sdk: SDK) -> None:
    client = sdk.make(timeout=12.0)
    sdk.server.reply(ok(agent_json()), ok(agent_json()))
    await sdk.run(lambda c: c.agents.retrieve("agent_1"), client)
    assert sdk.server.last.extensions["timeout"]["read"] == 12.0
    await sdk.run(lambda c: c.agents.retrieve("agent_1", timeout=2.5), client)
    assert sdk.server.last.extensions["timeout"]["read"] == 2.5


async def test_unknown_keyword_is_a_type_error_before_any_request(sdk: SDK) -> None:
    with pytest.raises(TypeError, match="nmae"):
        await sdk.run(lambda c: c.agents.create(name="A", type="inbound", nmae="typo"))
    assert sdk.server.requests == []


async def test_empty_ids_are_rejected_before_building_a_url(sdk: SDK) -> None:
    actions = [
        lambda c: c.agents.retrieve(""),
        lambda c: c.agents.update("  ", name="x"),
        lambda c: c.agents.detach_number("agent_1", number_id=""),
        lambda c: c.numbers.retrieve(""),
        lambda c: c.numbers.rules.delete("pn_1", ""),
        lambda c: c.calls.retrieve(""),
        lambda c: c.calls.transcript(""),
    ]
    for action in actions:
        with pytest.raises(ValueError, match="non-empty"):
            await sdk.run(action)
    assert sdk.server.requests == []


async def test_ids_are_escaped_in_paths(sdk: SDK) -> None:
    sdk.server.reply(ok(agent_json()))
    await sdk.run(lambda c: c.agents.retrieve("agent_1/../x"))
    assert sdk.server.last.url.raw_path == b"/v1/agents/agent_1%2F..%2Fx"


def test_sync_client_is_a_context_manager_that_leaves_a_passed_http_client_open() -> None:
    http_client = httpx.Client(transport=httpx.MockTransport(lambda request: ok({})))
    with Callingbox(api_key="sk", http_client=http_client) as client:
        assert isinstance(client, Callingbox)
    assert not http_client.is_closed
    with Callingbox(api_key="sk") as owned:
        pass
    assert owned._client.is_closed


async def test_async_client_is_an_async_context_manager() -> None:
    async with AsyncCallingbox(api_key="sk") as client:
        assert isinstance(client, AsyncCallingbox)
    assert client._client.is_closed
