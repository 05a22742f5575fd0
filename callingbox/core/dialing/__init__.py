"""The dialer: paced, concurrency-capped, never-twice dialing of queued calls (issue 4).

Layout (Powertools' utility shape): :mod:`.base` holds the rules (:class:`Dialer`), :mod:`.batch` what a
batch of jobs does together, :mod:`.pacing` the shared calls-per-second slots, :mod:`.types` the job/outcome/limit shapes, :mod:`.exceptions`
the errors. Storage is in :mod:`callingbox.core.store.dials`; the SQS handler in
``functions/workers/dialer.py``.
"""

from .base import CANCEL_RECHECK_S, CLAIM_STALE_S, Dialer
from .batch import DialBatch
from .exceptions import DialerError, DialRetryable, InvalidDialJob
from .pacing import DynamoSlotStore, PaceDecision, Pacer, SlotStore
from .types import DialJob, DialLimits, DialOutcome, DialResult

__all__ = [
    "CANCEL_RECHECK_S",
    "CLAIM_STALE_S",
    "Dialer",
    "DialBatch",
    "DialerError",
    "DialRetryable",
    "InvalidDialJob",
    "DynamoSlotStore",
    "PaceDecision",
    "Pacer",
    "SlotStore",
    "DialJob",
    "DialLimits",
    "DialOutcome",
    "DialResult",
]
