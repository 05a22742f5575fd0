"""The batch prelude: what a batch of dial jobs can share before each job is dialed on its own.

A dial queue batch holds up to ten jobs. Job by job, a dial costs the store a read, a claim, a
count of live calls and a pacing slot, each a round trip waited on in turn. Done for the batch
together they are four requests, whatever its size::

    read every call ─ BatchGetItem
    claim the claimable ones ─ one transaction (all or nothing)
    count live calls, per workspace ─ one query each; claims beyond the cap are released
    take a run of pacing slots ─ one atomic write (Pacer.reserve_run)

Each job then only waits for its slot, dials and records the sid (:meth:`Dialer.dial` with the
batch). Whatever the prelude could not settle, the job does on its own exactly as without a
batch: a lost claim transaction (a call changed since it was read) leaves every call unclaimed, a
run of slots beyond the horizon leaves them unpaced, and a failure part way leaves the entries as
far as they got. Never dialing twice rests on the claim alone, as on the single path.

Limitations:
    The slots of a batch are consecutive, so its jobs must dial side by side (the Lambda handler
    runs them on threads) or the later ones fall behind their slots.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from ..store import calls as call_store
from ..store import dials as dial_store
from ..store.calls import CallRecord
from .pacing import Pacer
from .types import DialJob

__all__ = ["Prepared", "DialBatch", "prepare_batch"]

Key = tuple[str, str]


@dataclass
class Prepared:
    """What the prelude settled for one call."""

    record: Optional[CallRecord]
    """The call as last read or written (None: there is no such call)."""
    read_at: float
    """When ``record`` was read or written (unix seconds)."""
    attempt_id: Optional[str] = None
    """Our claim's attempt id, when the prelude claimed the call."""
    counted: bool = False
    """The concurrency count passed with this claim included."""
    over_limit: bool = False
    """The count did not pass: the claim was released again and the job is put back."""
    slot_at: Optional[float] = None
    """The pacing slot taken for the call (unix seconds)."""


@dataclass
class DialBatch:
    """The prelude's entries, each handed out once (a repeated job of one call goes the single path)."""

    entries: dict[Key, Prepared] = field(default_factory=dict)

    def take(self, job: DialJob) -> Optional[Prepared]:
        """The entry for ``job``'s call, or None (none, or already taken by a repeat of the job)."""
        return self.entries.pop((job.workspace_id, job.call_id), None)


def prepare_batch(jobs: Sequence[DialJob], *, pacer: Pacer, max_concurrent_calls: int,
                  clock: Callable[[], float], on_step_failed: Callable[[str, Exception], None]) -> DialBatch:
    """Read, claim, count and pace ``jobs`` together (see the module docstring).

    A failing step stops the prelude and leaves the entries as far as they got: the jobs finish
    the work themselves. ``on_step_failed(step, error)`` is told.
    """
    batch = DialBatch()
    keys = list(dict.fromkeys((job.workspace_id, job.call_id) for job in jobs))
    if len(keys) < 2:
        return batch  # the single path costs one job no more
    step = "read"
    try:
        records = call_store.get_calls(keys)
        read_at = clock()
        for key in keys:
            batch.entries[key] = Prepared(records.get(key), read_at)
        step = "claim"
        claimed = _claim(batch, keys, clock)
        step = "count"
        counted = _count(batch, claimed, max_concurrent_calls)
        step = "pace"
        slots = pacer.reserve_run(len(counted))
        for key, slot_at in zip(counted, slots or []):
            batch.entries[key].slot_at = slot_at
    except Exception as error:  # noqa: BLE001 - every job still finishes on its own
        on_step_failed(step, error)
    return batch


def _claim(batch: DialBatch, keys: list[Key], clock: Callable[[], float]) -> list[Key]:
    claims: list[tuple[str, str, CallRecord, dict[str, Any]]] = []
    attempts: dict[Key, str] = {}
    for key in keys:
        record = batch.entries[key].record
        if record is not None:
            attempts[key] = uuid.uuid4().hex
            claims.append((*key, record, {"state": "dialing", "attempt_id": attempts[key],
                                          "claimed_at": int(clock())}))
    written = dial_store.claim_dials(claims)  # leaves out what is not claimable
    if not written:
        return []  # nothing claimable, or a call changed since the read: each job claims on its own
    now = clock()
    claimed = [key for key in keys if key[1] in written]
    for key in claimed:
        entry = batch.entries[key]
        entry.record, entry.read_at, entry.attempt_id = written[key[1]], now, attempts[key]
    return claimed


def _count(batch: DialBatch, claimed: list[Key], cap: int) -> list[Key]:
    """The claims within each workspace's concurrency cap; the others are released."""
    passed: list[Key] = []
    for workspace_id in dict.fromkeys(key[0] for key in claimed):
        mine = [key for key in claimed if key[0] == workspace_id]
        live = dial_store.count_live(workspace_id)  # includes our claims
        keep = len(mine) - max(0, live - cap)
        for key in mine[max(0, keep):]:
            entry = batch.entries[key]
            dial_store.release_dial(workspace_id, key[1], str(entry.attempt_id))
            entry.attempt_id, entry.over_limit = None, True
        for key in mine[:max(0, keep)]:
            batch.entries[key].counted = True
            passed.append(key)
    return passed
