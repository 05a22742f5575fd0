"""The resource namespaces behind ``client.agents``, ``client.numbers`` and ``client.calls``.

Each lives in a module of its own with a sync class and its async twin. Names here are
imported on first access, so importing this package costs nothing.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .agents import Agents, AsyncAgents
    from .calls import AsyncCalls, Calls
    from .numbers import AsyncNumberRules, AsyncNumbers, NumberRules, Numbers

__all__ = [
    "Agents",
    "AsyncAgents",
    "Numbers",
    "AsyncNumbers",
    "NumberRules",
    "AsyncNumberRules",
    "Calls",
    "AsyncCalls",
]

_MODULES = {
    "Agents": "agents",
    "AsyncAgents": "agents",
    "Numbers": "numbers",
    "AsyncNumbers": "numbers",
    "NumberRules": "numbers",
    "AsyncNumberRules": "numbers",
    "Calls": "calls",
    "AsyncCalls": "calls",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
