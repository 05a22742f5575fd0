"""Fixtures of the SDK tests; the harness itself is in ``sdk_harness.py``."""

from __future__ import annotations

import pytest

from sdk_harness import SDK, MockServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Results never depend on the developer's shell."""
    for name in ("CALLINGBOX_API_KEY", "CALLINGBOX_BASE_URL", "CALLINGBOX_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> MockServer:
    return MockServer()


@pytest.fixture(params=["sync", "async"])
def sdk(request: pytest.FixtureRequest, server: MockServer) -> SDK:
    """The harness, once with ``Callingbox`` and once with ``AsyncCallingbox``."""
    return SDK(request.param, server)
