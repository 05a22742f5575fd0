"""``callingbox dev --forward-webhooks URL``: every event of the dev workspace, signed, to your URL.

Creates an account-wide endpoint for ``"*"`` pointing at the URL (plain http and loopback are
fine in the local stack), prints its secret so the receiver can verify with
``callingbox.webhooks.verify``, and prints one line per delivery attempt as the delivery worker
makes it::

    webhook call.completed   call_01jd…  -> 200  (14 ms)  evt_01jd…
    webhook call.queued      call_01jd…  -> 500  (3 ms)   evt_01jd…  retrying (attempt 1)

The worker itself (:func:`callingbox.local.webhook_worker.start_webhook_worker`) must run in the
same process: the lines come from its attempt listener.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, TextIO

from ..core.settings import Settings

__all__ = ["WebhookForwarding", "start_webhook_forwarding", "format_attempt"]

DESCRIPTION = "callingbox dev --forward-webhooks"


@dataclass
class WebhookForwarding:
    """A running forwarder: the endpoint it made (with its one-time ``secret``)."""

    endpoint: dict[str, Any]
    settings: Settings
    workspace_id: str
    _remove_listener: Callable[[], None]
    _stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def secret(self) -> str:
        """The endpoint's signing secret (``whsec_…``)."""
        return str(self.endpoint["secret"])

    def stop(self, *, delete_endpoint: bool = True) -> None:
        """Stop printing and (by default) delete the endpoint."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._remove_listener()
        if delete_endpoint:
            from ..core.errors import NotFound
            from ..core.scope import Scope
            from ..core.webhook_endpoints import delete_endpoint as delete

            try:
                delete(Scope(self.workspace_id, self.settings), str(self.endpoint["id"]))
            except NotFound:
                pass


def format_attempt(report: Any) -> str:
    """One printed line for an :class:`~callingbox.core.delivery.AttemptReport`."""
    outcome = str(report.status_code) if report.status_code is not None else "error"
    latency = f"({report.latency_ms} ms)" if report.latency_ms is not None else ""
    line = f"webhook {report.event_type:<24} {report.call_id or '-':<32} -> {outcome:<5} {latency:<9} {report.event_id}"
    if report.error and not report.succeeded:
        line += f"  {report.error}"
    if report.delivery_status == "pending":
        line += f"  retrying (attempt {report.attempt})"
    elif report.delivery_status == "failed":
        line += f"  gave up after attempt {report.attempt}"
    return line


def start_webhook_forwarding(target_url: str, *, workspace_id: str, settings: Optional[Settings] = None,
                             out: Optional[TextIO] = None) -> WebhookForwarding:
    """Forward every event of ``workspace_id`` to ``target_url`` and print each delivery to ``out``.

    Args:
        target_url: Where to POST (``http://localhost:3000/hooks`` is fine locally).
        workspace_id: The dev workspace.
        settings: The local stack's settings (default: from the environment).
        out: Where lines go (default: stdout).

    Raises:
        callingbox.core.errors.InvalidRequest: the URL is not one an endpoint may have (its
            ``message`` says why; ``param`` is ``url``).
    """
    from ..core.delivery import add_attempt_listener
    from ..core.scope import Scope
    from ..core.store.binding import bind_store
    from ..core.webhook_endpoints import create_endpoint

    settings = settings or Settings.from_env()
    stream = out or sys.stdout
    bind_store(settings)
    endpoint = create_endpoint(Scope(workspace_id, settings),
                               {"url": target_url, "events": ["*"], "description": DESCRIPTION})
    lock = threading.Lock()

    def show(report: Any) -> None:
        if report.endpoint_id != endpoint["id"]:
            return
        with lock:
            stream.write(format_attempt(report) + "\n")
            stream.flush()

    remove = add_attempt_listener(show)
    stream.write(f"Forwarding webhooks to {target_url} (endpoint {endpoint['id']}, every event type).\n"
                 f"Signing secret: {endpoint['secret']}\n"
                 f"  verify with callingbox.webhooks.verify(body, headers['CallingBox-Signature'], secret)\n")
    stream.flush()
    return WebhookForwarding(endpoint, settings, workspace_id, remove)
