"""Helpers shared by test modules (import as ``tests.support``; conftest re-uses them)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

_numbers = itertools.count(1000)


def unique_e164() -> str:
    """A number no other test in this session uses (555-xxxx in a fictional exchange)."""
    return f"+1415555{next(_numbers):04d}"


@dataclass
class Workspace:
    """A workspace of the local stack, its key, and the docs' sample numbers adopted into it."""

    id: str
    api_key: str
    base_url: str
    numbers: dict[str, str]

    def http(self, **kwargs: Any) -> Any:
        """An httpx client authenticated as this workspace."""
        import httpx

        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {self.api_key}"},
                            timeout=30, **kwargs)


def new_workspace(base_url: str, name: str = "test") -> Workspace:
    """A fresh workspace holding pn_abc123, pn_xyz789, pn_new and pn_old (numbers unique to it)."""
    from callingbox.core.store.workspaces import create_workspace
    from callingbox.local.demo_numbers import seed_demo_numbers

    ws, key = create_workspace(name)
    numbers = seed_demo_numbers(str(ws["id"]), [unique_e164() for _ in range(4)])
    return Workspace(str(ws["id"]), key, base_url, {n["id"]: n["number"] for n in numbers})
