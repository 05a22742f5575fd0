"""One object per process, built on first use: what a warm Lambda keeps between invocations.

Every Lambda entry point (the API's runtime, each worker) holds its dependencies this way: built
from the environment by the first invocation, reused by the next ones, and replaceable by tests and
the local stack, which install their own.

Examples:
    _runtime = PerProcess(lambda: Runtime.from_settings(Settings.from_env()))
    _runtime.get()            # built once, then the same object
    _runtime.install(other)   # tests; install(None) rebuilds on the next get()
"""

from __future__ import annotations

import threading
from typing import Callable, Generic, Optional, TypeVar

__all__ = ["PerProcess"]

T = TypeVar("T")


class PerProcess(Generic[T]):
    """Holds one ``T``; :meth:`get` builds it with ``build`` the first time (once, even when threads race)."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: Optional[T] = None
        self._lock = threading.Lock()

    def get(self) -> T:
        """The installed object, built on first use."""
        value = self._value
        if value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._build()
                value = self._value
        return value

    def install(self, value: Optional[T]) -> None:
        """Replace the object; ``None`` rebuilds it on the next :meth:`get`."""
        with self._lock:
            self._value = value
