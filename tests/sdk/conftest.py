"""Fixtures of the SDK tests; the harness itself is in ``sdk_harness.py``.

The environment is cleaned by the autouse ``clean_environ`` of ``tests/conftest.py``.
"""

from __future__ import annotations

import pytest
from sdk_harness import SDK, MockServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server() -> MockServer:
    return MockServer()


@pytest.fixture(params=["sync", "async"])
def sdk(request: pytest.FixtureRequest, server: MockServer) -> SDK:
    """The harness, once with ``Callingbox`` and once with ``AsyncCallingbox``."""
    return SDK(request.param, server)
