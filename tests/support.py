"""Helpers shared by test modules (import as ``tests.support``; conftest re-uses them)."""

from __future__ import annotations

import itertools

_numbers = itertools.count(1000)


def unique_e164() -> str:
    """A number no other test in this session uses (555-xxxx in a fictional exchange)."""
    return f"+1415555{next(_numbers):04d}"
