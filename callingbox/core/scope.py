"""Who is asking: the workspace a request acts in and the deployment's settings."""

from __future__ import annotations

from dataclasses import dataclass

from .settings import Settings

__all__ = ["Scope"]


@dataclass(frozen=True)
class Scope:
    """Every domain operation runs inside one workspace."""

    workspace_id: str
    settings: Settings
