"""``client.webhook_endpoints`` and ``client.events``, sync and async, against the local stack."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import pytest

from callingbox import AsyncCallingbox, Callingbox, NotFoundError
from callingbox.types import DeletedObject, Event, WebhookEndpoint, WebhookSecret


class Both:
    """Runs one scenario with the sync client or the async one (same method names)."""

    def __init__(self, mode: str, workspace: Any) -> None:
        self.mode = mode
        self.workspace = workspace
        self.sync = Callingbox(api_key=workspace.api_key, base_url=workspace.base_url)

    def run(self, call: Callable[[Any], Any]) -> Any:
        if self.mode == "sync":
            return call(self.sync)

        async def go() -> Any:
            async with AsyncCallingbox(api_key=self.workspace.api_key, base_url=self.workspace.base_url) as client:
                result = call(client)
                if hasattr(result, "__aiter__"):
                    return [item async for item in result]
                return await result

        return asyncio.run(go())


@pytest.fixture(params=["sync", "async"])
def both(request: pytest.FixtureRequest, workspace: Any) -> Both:
    return Both(request.param, workspace)


def test_endpoint_lifecycle(both: Both) -> None:
    created = both.run(lambda c: c.webhook_endpoints.create(url="https://hooks.example.com/a",
                                                            events=("call.completed",), description="CRM"))
    assert isinstance(created, WebhookEndpoint) and created.secret and created.events == ["call.completed"]
    fetched = both.run(lambda c: c.webhook_endpoints.retrieve(created.id))
    assert fetched.secret is None and fetched.description == "CRM"
    rotated = both.run(lambda c: c.webhook_endpoints.rotate_secret(created.id))
    assert rotated.secret and rotated.secret != created.secret and rotated.previous_secret_expires_at
    updated = both.run(lambda c: c.webhook_endpoints.update(created.id, enabled=False, description=None))
    assert updated.enabled is False and updated.description is None and updated.secret is None
    page = both.run(lambda c: c.webhook_endpoints.list(limit=10))
    assert [e.id for e in page.data] == [created.id]
    deleted = both.run(lambda c: c.webhook_endpoints.delete(created.id))
    assert isinstance(deleted, DeletedObject) and deleted.deleted
    with pytest.raises(NotFoundError):
        both.run(lambda c: c.webhook_endpoints.retrieve(created.id))
    secret = both.run(lambda c: c.webhook_endpoints.retrieve_signing_secret())
    assert isinstance(secret, WebhookSecret) and secret.secret.startswith("whsec_")
    assert both.run(lambda c: c.webhook_endpoints.rotate_signing_secret()).secret != secret.secret


def test_events_list_retrieve_redeliver(both: Both, api: Any, outbound_agent: dict) -> None:
    call = api.post("/v1/calls", json={"agent_id": outbound_agent["id"], "to": "+14155550123"}).json()
    api.post(f"/v1/calls/{call['id']}/cancel")
    page = both.run(lambda c: c.events.list(type="call.canceled"))
    [event] = [e for e in page.data if e.data.object.id == call["id"]]
    assert isinstance(event, Event) and event.type == "call.canceled" and event.data.object.status == "canceled"
    every = both.run(lambda c: c.events.iter_events(limit=1))
    assert {e.type for e in every if e.data.object.id == call["id"]} == {"call.queued", "call.canceled"}
    retrieved = both.run(lambda c: c.events.retrieve(event.id))
    assert retrieved.id == event.id and retrieved.deliveries == []
    assert both.run(lambda c: c.events.redeliver(event.id)).id == event.id
    with pytest.raises(ValueError):
        both.run(lambda c: c.events.retrieve(""))
