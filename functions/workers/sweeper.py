"""The sweeper Lambda: run on a schedule (EventBridge, once a minute), it ends calls whose voice
gateway stopped reporting (:func:`callingbox.core.sweeper.sweep`) and announces each as
``call.failed``.

Handler: ``workers.sweeper.handler`` (the ``functions/`` folder is the bundle root).
"""

from __future__ import annotations

import time
from typing import Any, Optional

from aws_lambda_powertools import Logger

from callingbox.core.settings import Settings

logger = Logger(service="callingbox-sweeper")
_settings: Optional[Settings] = None


def _current_settings() -> Settings:
    global _settings
    if _settings is None:
        from callingbox.core.store.binding import bind_store

        _settings = Settings.from_env()
        bind_store(_settings)
    return _settings


def sweep_and_announce(settings: Settings, now: float) -> list[str]:
    """One sweep; returns the ids of the calls it ended (each announced as ``call.failed``)."""
    from callingbox.core.call_events import announce
    from callingbox.core.sweeper import sweep

    ended = sweep(now)
    for call in ended:
        logger.warning("call ended: gateway lost", extra={"call_id": call.call_id})
        announce(settings, call.workspace_id, call.call)
    return [call.call_id for call in ended]


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The scheduled event's content is not used: every run sweeps every workspace."""
    return {"ended": sweep_and_announce(_current_settings(), time.time())}
