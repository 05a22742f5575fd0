"""``{{variable}}`` placeholders in persona, instructions and first_message, filled from a call's context."""

from __future__ import annotations

import re
from typing import Any, Mapping

__all__ = ["PLACEHOLDER", "placeholders", "render", "UnknownVariable"]

# ``{{ name }}`` or ``{{customer.first_name}}``: dotted paths reach into nested context objects.
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}")


class UnknownVariable(KeyError):
    """A placeholder names a variable the context does not hold."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def placeholders(text: str | None) -> list[str]:
    """The variable names ``text`` refers to, in order of appearance."""
    return PLACEHOLDER.findall(text or "")


def _lookup(context: Mapping[str, Any], path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise UnknownVariable(path)
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return ""
    return str(value)


def render(text: str | None, context: Mapping[str, Any] | None) -> str | None:
    """``text`` with every placeholder replaced; raises :class:`UnknownVariable` for a missing one."""
    if text is None or "{{" not in text:
        return text
    values = context or {}
    return PLACEHOLDER.sub(lambda match: _as_text(_lookup(values, match.group(1))), text)
