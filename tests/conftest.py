"""Shared fixtures: one local stack (moto server + the Chalice API on loopback) per test session,
and a fresh workspace per test so that tests never see each other's data."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from tests.support import Workspace, new_workspace

# The SDK and the CLI read these; a developer's shell must not change what the tests see.
_CLIENT_VARIABLES = ("CALLINGBOX_API_KEY", "CALLINGBOX_BASE_URL", "CALLINGBOX_WEBHOOK_SECRET")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _CLIENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def local_stack() -> Iterator[Any]:
    from callingbox.local.stack import start_local_stack

    # Short rings and a fast dialer keep the telephony tests quick; everything else is the default.
    # The workers stay off: tests that need them start them (tests/telephony/test_local_carrier_calls.py),
    # so that no other test's call gets dialed behind its back.
    stack = start_local_stack(port=0, workers=False,
                              extra_env={"CALLINGBOX_RING_TIMEOUT_SECONDS": "3", "CALLINGBOX_DIAL_CPS": "50"})
    yield stack
    stack.stop()


@pytest.fixture
def workspace(local_stack: Any) -> Workspace:
    return new_workspace(local_stack.api_url)


@pytest.fixture
def api(workspace: Workspace) -> Iterator[Any]:
    with workspace.http() as client:
        yield client
