"""What a warm Lambda keeps between requests: settings, the bound store, queue and key clients.

Built on the first request (not at import, so importing the app stays cheap and reads nothing),
and replaceable by tests and the local stack through :func:`install`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Optional

from callingbox.core.auth import KeyResolver
from callingbox.core.queues import JobQueues
from callingbox.core.settings import Settings
from callingbox.core.store.binding import bind_store

__all__ = ["Runtime", "current", "install"]


@dataclass
class Runtime:
    """The per-process dependencies of the API."""

    settings: Settings
    queues: JobQueues
    keys: KeyResolver

    @classmethod
    def from_settings(cls, settings: Settings) -> "Runtime":
        """Bind the store and build the clients for ``settings``."""
        bind_store(settings)
        return cls(settings=settings, queues=JobQueues(settings), keys=KeyResolver(settings.api_key_cache_seconds))


_runtime: Optional[Runtime] = None
_lock = threading.Lock()


def current() -> Runtime:
    """The installed runtime, built from the environment on first use."""
    global _runtime
    if _runtime is None:
        with _lock:
            if _runtime is None:
                _runtime = Runtime.from_settings(Settings.from_env())
    return _runtime


def install(runtime: Optional[Runtime]) -> None:
    """Replace the runtime (``None`` rebuilds it from the environment on next use)."""
    global _runtime
    _runtime = runtime
