"""`callingbox workspace create`: a new workspace and its first API key, printed once."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["create_workspace_cli", "load_env_file"]


def load_env_file(path: Path) -> None:
    """Export ``KEY=VALUE`` lines of ``path`` that the environment does not already set."""
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() and not line.lstrip().startswith("#"):
            os.environ.setdefault(name.strip(), value.strip())


def create_workspace_cli(name: str) -> int:
    """Create a workspace in the deployment the environment points at (or the running local stack)."""
    from ..core.settings import Settings
    from ..core.store.binding import bind_store
    from ..core.store.workspaces import create_workspace
    from .stack import ENV_FILE

    load_env_file(ENV_FILE)
    bind_store(Settings.from_env())
    try:
        workspace, key = create_workspace(name)
    except Exception as error:  # the table is unreachable or missing: say where we looked
        print(f"callingbox: could not create the workspace: {error}", file=sys.stderr)
        return 1
    print(f"workspace {workspace['id']} ({name})\napi key (shown once, store it now): {key}")
    return 0
