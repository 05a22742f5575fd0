"""Announcing a call's status changes: the one place the status writers call after a move.

Every writer of a call's status (carrier callbacks, the dialer, the gateway, the sweeper, the
API) calls :func:`announce` with the call as it is after its write. The event type follows from
the status (:data:`callingbox.core.call_states.EVENT_FOR_STATUS`; ``completed`` announces
nothing here: ``call.completed`` comes after post-call processing). The event is keyed on
``<call id>:<type>``, so announcing twice, from two writers or from a retry, yields one event.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from .settings import Settings

__all__ = ["announce"]


def announce(settings: Settings, workspace_id: str, call_doc: Mapping[str, Any], *, strict: bool = False
             ) -> Optional[dict[str, Any]]:
    """Emit the event for ``call_doc``'s current status, if that status has one; returns the event.

    A failure is logged and swallowed unless ``strict`` (then it raises, for callers that can make
    their client retry): a status write must not be undone because its event could not be stored.
    """
    from .events import emit_call_event, event_for_transition

    event_type = event_for_transition(str(call_doc.get("status")))
    if event_type is None:
        return None
    try:
        return emit_call_event(settings, workspace_id, event_type, dict(call_doc))
    except Exception as error:
        if strict:
            raise
        from .observability import get_logger

        get_logger("events").error("event not emitted", extra={"call_id": call_doc.get("id"), "type": event_type,
                                                                 "error": repr(error)})
        return None
