"""Calls-per-second pacing shared by every dialer process: a "next free slot" in DynamoDB.

The carrier limits how many calls an account may start per second (Twilio: 1 CPS by default,
more on request), across everything that dials. Each dial takes the next free slot, at least
``1 / cps`` seconds after the previous one, by moving the shared slot forward with a conditional
write; two workers that read the same slot cannot both move it, so the loser reads again::

    worker A: read next=t0 ─ write next=t0+Δ IF next=t0 ─ ok   → A dials at t0
    worker B: read next=t0 ─ write next=t0+Δ IF next=t0 ─ fails → read next=t0+Δ → … B dials at t0+Δ

On DynamoDB the read is folded into the write (:func:`callingbox.core.store.dials.take_slot`): while
the slots run ahead of the clock (a backlog), ``ADD next Δ IF now < next <= now + horizon`` takes
the slot ``next`` in one request that never loses a race; only an idle pacer (slot in the past)
or a full horizon costs a second request.

A batch of jobs takes a run of consecutive slots in one write (:meth:`Pacer.reserve_run`), so the
pacer costs a batch one request however many calls it dials.

A worker sleeps until its slot when it is near (``max_wait_s``); when the queue of reserved slots
runs further ahead than that, it takes no slot and puts the job back for later instead, so a
Lambda never sleeps for long. Slots are integer microseconds, compared exactly.

Examples:
    pacer = Pacer(DynamoSlotStore(), cps=20, max_wait_s=20)
    decision = pacer.reserve()
    if decision.defer_s is None:
        time.sleep(max(0, decision.at - time.time())); carrier.dial(...)
    slots = pacer.reserve_run(10)   # ten slots (unix times), or None: then one by one

Limitations:
    A slot taken by a job that then does not dial (the call was canceled meanwhile) is lost:
    the limit is a ceiling, never exceeded, sometimes not reached.
"""

from __future__ import annotations

import random
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Optional

__all__ = ["SlotStore", "DynamoSlotStore", "Taken", "PaceDecision", "Pacer"]

# Contention is brief (each loser reads the slot the winner just wrote); this many tries means
# something else is wrong, and the job is put back rather than spinning.
MAX_RESERVE_ATTEMPTS = 50
_US = 1_000_000


@dataclass(frozen=True)
class Taken:
    """A slot taken (``slot``, unix microseconds), or none: then ``next_free`` is the next free slot,
    beyond the horizon (None when contention kept every attempt from deciding)."""

    slot: Optional[int] = None
    next_free: Optional[int] = None


class SlotStore(ABC):
    """Where the next free slot lives (unix microseconds)."""

    @abstractmethod
    def read(self, name: str) -> Optional[int]:
        """The next free slot, or None when the pacer was never used."""

    @abstractmethod
    def advance(self, name: str, *, expected: Optional[int], to: int) -> bool:
        """Move the slot from ``expected`` to ``to``; False when another worker moved it first."""

    def take(self, name: str, *, now: int, interval: int, horizon: int, count: int = 1) -> Taken:
        """Take the next ``count`` free slots if the last is at most ``horizon`` after ``now``, and
        move the next free slot past them; ``slot`` is the first. This default reads, then advances
        conditionally; stores with an atomic add do it in one write."""
        for _ in range(MAX_RESERVE_ATTEMPTS):
            current = self.read(name)
            slot = max(now, current or 0)
            if slot + interval * (count - 1) - now > horizon:
                return Taken(next_free=slot)
            if self.advance(name, expected=current, to=slot + interval * count):
                return Taken(slot=slot)
        return Taken()


class DynamoSlotStore(SlotStore):
    """:class:`SlotStore` on the table (one small item per pacer, :mod:`callingbox.core.store.dials`)."""

    def read(self, name: str) -> Optional[int]:
        from ..store import dials

        return dials.read_slot(name)

    def advance(self, name: str, *, expected: Optional[int], to: int) -> bool:
        from ..store import dials

        return dials.advance_slot(name, expected=expected, to=to)

    def __init__(self) -> None:
        # Which write took the last slot: trying it first again makes a steady regime (behind the
        # clock, or ahead of it) one request per slot. A hint only: a wrong guess costs a request.
        self._idle = True

    def take(self, name: str, *, now: int, interval: int, horizon: int, count: int = 1) -> Taken:
        from ..store import dials

        for _ in range(MAX_RESERVE_ATTEMPTS):
            result = dials.take_slot(name, now=now, interval=interval, horizon=horizon, idle_first=self._idle,
                                     count=count)
            if result.slot is not None:
                self._idle = result.idle
                return Taken(slot=result.slot)
            if result.next_free is not None:
                self._idle = False
                return Taken(next_free=result.next_free)
        return Taken()


@dataclass(frozen=True)
class PaceDecision:
    """Either a slot (``at``, unix seconds; dial then) or none (``defer_s``: try again that much later).

    The slot is a time, not a wait: the request that took it may have lasted a while, and a wait
    measured from before it would put the dial that much late, past the next worker's slot."""

    at: float = 0.0
    defer_s: Optional[float] = None


class Pacer:
    """Hands out dial slots at most ``cps`` per second (see the module docstring)."""

    def __init__(self, store: SlotStore, *, cps: float, max_wait_s: float, name: str = "dial",
                 clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._cps = cps
        self._max_wait_s = max_wait_s
        self._name = name
        self._clock = clock

    def reserve(self, *, max_wait_s: Optional[float] = None) -> PaceDecision:
        """Take the next slot if it is within ``max_wait_s`` (default: the pacer's); else say when to come back."""
        limit = self._max_wait_s if max_wait_s is None else min(max_wait_s, self._max_wait_s)
        if self._cps <= 0:
            return PaceDecision(at=self._clock())  # no limit configured
        interval = max(1, round(_US / self._cps))
        now = int(self._clock() * _US)
        taken = self._store.take(self._name, now=now, interval=interval, horizon=int(limit * _US))
        if taken.slot is not None:
            return PaceDecision(at=taken.slot / _US)
        if taken.next_free is None:
            return PaceDecision(defer_s=1.0 + random.uniform(0, 1))
        # Come back when the reserved run has (about) drained to our reach; jitter spreads the
        # returning jobs so they do not all contend in the same second.
        wait_s = (taken.next_free - now) / _US
        return PaceDecision(defer_s=wait_s - limit + random.uniform(0, self._max_wait_s / 2))

    def reserve_run(self, count: int) -> Optional[list[float]]:
        """Take ``count`` consecutive slots in one step if all lie within the pacer's ``max_wait_s``;
        their times (unix seconds), or None when they do not all fit (take them one by one)."""
        if count < 1:
            return []
        if self._cps <= 0:
            return [self._clock()] * count
        interval = max(1, round(_US / self._cps))
        horizon = int(self._max_wait_s * _US)
        if interval * (count - 1) > horizon:
            return None
        now = int(self._clock() * _US)
        taken = self._store.take(self._name, now=now, interval=interval, horizon=horizon, count=count)
        if taken.slot is None:
            return None
        return [(taken.slot + i * interval) / _US for i in range(count)]
