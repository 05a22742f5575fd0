"""Shared fixtures: one local stack (moto server + the Chalice API on loopback) per test session,
and a fresh workspace per test so that tests never see each other's data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import pytest

from tests.support import unique_e164

# The SDK and the CLI read these; a developer's shell must not change what the tests see.
_CLIENT_VARIABLES = ("CALLINGBOX_API_KEY", "CALLINGBOX_BASE_URL", "CALLINGBOX_WEBHOOK_SECRET")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _CLIENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def local_stack() -> Iterator["object"]:
    from callingbox.local.stack import start_local_stack

    stack = start_local_stack(port=0)
    yield stack
    stack.stop()


@dataclass
class Workspace:
    """A workspace of the local stack, its key, and the docs' sample numbers adopted into it."""

    id: str
    api_key: str
    base_url: str
    numbers: dict[str, str]

    def http(self, **kwargs: object) -> "object":
        import httpx

        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {self.api_key}"},
                            timeout=30, **kwargs)


@pytest.fixture
def workspace(local_stack: object) -> Workspace:
    from callingbox.core.store.workspaces import create_workspace
    from callingbox.local.demo_numbers import seed_demo_numbers

    ws, key = create_workspace("test")
    numbers = seed_demo_numbers(str(ws["id"]), [unique_e164() for _ in range(4)])
    return Workspace(str(ws["id"]), key, local_stack.api_url, {n["id"]: n["number"] for n in numbers})


@pytest.fixture
def api(workspace: Workspace) -> Iterator["object"]:
    with workspace.http() as client:
        yield client
