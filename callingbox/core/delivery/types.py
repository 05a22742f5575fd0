"""The shapes the delivery worker passes around: queue jobs, destinations, attempt outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .exceptions import InvalidJob

__all__ = ["FanOutJob", "DeliveryJob", "Destination", "ResolvedTarget", "HttpOutcome", "AttemptReport", "parse_job"]


@dataclass(frozen=True)
class FanOutJob:
    """Create one delivery per destination of a stored event (and publish it if not yet done)."""

    workspace_id: str
    event_id: str

    def body(self) -> dict[str, Any]:
        """The SQS message body."""
        return {"kind": "fan_out", "workspace_id": self.workspace_id, "event_id": self.event_id}


@dataclass(frozen=True)
class DeliveryJob:
    """Perform attempt ``attempt`` of one delivery, not before ``not_before`` (unix seconds).

    SQS delays top out at 15 minutes, so a job due later arrives early and is put back with the
    remaining delay; ``not_before`` travels with it.
    """

    workspace_id: str
    event_id: str
    destination: str  # the delivery's key: "url" or an endpoint id
    attempt: int
    not_before: float = 0.0

    def body(self) -> dict[str, Any]:
        """The SQS message body."""
        return {"kind": "deliver", "workspace_id": self.workspace_id, "event_id": self.event_id,
                "destination": self.destination, "attempt": self.attempt, "not_before": self.not_before}


def parse_job(body: Any) -> FanOutJob | DeliveryJob:
    """The job in a message body; anything else is :class:`InvalidJob` (never retried)."""
    if not isinstance(body, dict):
        raise InvalidJob("a webhooks job must be a JSON object")
    try:
        if body.get("kind") == "fan_out":
            return FanOutJob(str(body["workspace_id"]), str(body["event_id"]))
        if body.get("kind") == "deliver":
            return DeliveryJob(str(body["workspace_id"]), str(body["event_id"]), str(body["destination"]),
                               int(body["attempt"]), float(body.get("not_before") or 0.0))
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidJob(f"malformed webhooks job: {error}") from None
    raise InvalidJob(f"unknown webhooks job kind {body.get('kind')!r}")


@dataclass(frozen=True)
class Destination:
    """Where an event goes: the call's ``webhook_url`` or an account-wide endpoint."""

    kind: str  # "webhook_url" | "endpoint"
    url: str
    endpoint_id: Optional[str] = None


@dataclass(frozen=True)
class ResolvedTarget:
    """A destination URL with its host resolved to an address that passed the SSRF check.

    The request goes to ``address`` (so a second DNS answer cannot swap in a private one) while
    ``Host`` and TLS SNI and certificate checks use ``host``.
    """

    url: str
    scheme: str
    host: str
    port: int
    address: str
    target: str  # path and query, at least "/"


@dataclass(frozen=True)
class HttpOutcome:
    """What one POST came back with: a status code, or an error (timeout, refused destination…)."""

    status_code: Optional[int]
    latency_ms: int
    error: Optional[str] = None

    @property
    def succeeded(self) -> bool:
        """Any 2xx."""
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class AttemptReport:
    """One recorded attempt, as told to attempt listeners (``callingbox dev --forward-webhooks``)."""

    workspace_id: str
    event_id: str
    event_type: str
    call_id: Optional[str]
    destination: str
    endpoint_id: Optional[str]
    url: str
    attempt: int
    status_code: Optional[int]
    latency_ms: Optional[int]
    error: Optional[str]
    succeeded: bool
    delivery_status: str
    next_attempt_at: Optional[float]
