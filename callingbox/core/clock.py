"""Wall-clock time behind one function so tests can pin it."""

from __future__ import annotations

import time

__all__ = ["now_s"]


def now_s() -> int:
    """Unix seconds."""
    return int(time.time())
