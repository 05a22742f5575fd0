"""Processors and their linking: pipecat's shape, small.

A processor overrides :meth:`Processor.process_frame`, handles the frame types it owns and passes
everything else on with :meth:`Processor.push`. By default a frame is processed inline, in the task
that pushed it (a caller audio frame goes from the socket through every stage that wants it with
no queue and no task switch). A stage whose work is slow and ordered (speech synthesis) is a
:class:`QueuedProcessor`: data and control frames wait in its queue for its own task, while system
frames skip the queue and are handled at once — so an :class:`~.frames.InterruptionFrame` always
overtakes queued audio, flushes the queue (keeping uninterruptible frames) and cancels the work in
flight with a bounded wait.

One :class:`CallContext` per call holds what every stage may need besides frames: the clock, the
stream's origin, and the callbacks into the conversation (hang up, fail, record latency).
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from callingbox.core.observability import get_logger

from .frames import Frame, InterruptionFrame, SystemFrame, TurnTimings, UninterruptibleFrame

__all__ = [
    "Direction",
    "Processor",
    "QueuedProcessor",
    "Pipeline",
    "CallContext",
    "TASK_CANCEL_TIMEOUT_S",
    "cancel_and_wait",
]

# Bounded wait for a task we cancelled: some libraries swallow CancelledError (or block in a
# finally), and a stuck engine must never hold up barge-in or the end of a call.
TASK_CANCEL_TIMEOUT_S = 0.5


class Direction(enum.Enum):
    """Downstream: from the caller towards the speaker. Upstream: reports back towards the caller side."""

    DOWNSTREAM = 1
    UPSTREAM = 2


DOWN = Direction.DOWNSTREAM
UP = Direction.UPSTREAM


async def cancel_and_wait(task: Optional[asyncio.Task[Any]], timeout: float = TASK_CANCEL_TIMEOUT_S) -> bool:
    """Cancel ``task`` and wait for it at most ``timeout`` seconds; True if it finished.

    Never raises the task's exception (the task's owner logs it where it happened) and never
    cancels the caller: if the caller itself is cancelled while waiting, that propagates.
    """
    if task is None or task.done():
        return True
    task.cancel()
    if task is asyncio.current_task():
        return False
    done, _ = await asyncio.wait({task}, timeout=timeout)
    return bool(done)


@dataclass
class CallContext:
    """Per-call services shared by the processors (everything else travels in frames).

    ``hang_up(reason)`` ends the call from the agent's side; ``transfer(to)`` records a transfer to
    ``to`` and then ends the stream (the carrier bridges the caller); ``fail(detail, error)`` ends it
    as ``failed`` with ``error:<detail>``; ``record_latency(timings)`` stores one turn's timings.
    The defaults do nothing, for frame-level tests.
    """

    call_id: str = ""
    clock: Callable[[], float] = time.monotonic
    origin: float = field(default_factory=time.monotonic)
    hang_up: Callable[[str], None] = lambda reason: None
    transfer: Callable[[str], None] = lambda to: None
    fail: Callable[[str, Optional[BaseException]], None] = lambda detail, error: None
    record_latency: Callable[[TurnTimings], None] = lambda timings: None

    def offset_ms(self, at: float) -> int:
        """Milliseconds from the start of the stream to ``at`` (monotonic seconds)."""
        return max(0, round((at - self.origin) * 1000))


class Processor:
    """One stage of the pipeline. Subclasses override :meth:`process_frame` and call :meth:`push`."""

    def __init__(self, *, name: Optional[str] = None) -> None:
        self.name = name or type(self).__name__
        self._next: Optional[Processor] = None
        self._prev: Optional[Processor] = None

    def link(self, following: "Processor") -> None:
        """Make ``following`` the next stage downstream."""
        self._next = following
        following._prev = self

    async def start(self) -> None:
        """Called once before the first frame."""

    async def stop(self) -> None:
        """Called once when the call ends; cancel anything still running (bounded)."""

    async def queue_frame(self, frame: Frame, direction: Direction = DOWN) -> None:
        """Accept a frame from a neighbour; inline by default."""
        await self.process_frame(frame, direction)

    async def process_frame(self, frame: Frame, direction: Direction) -> None:
        """Handle ``frame``; the base passes it on unchanged."""
        await self.push(frame, direction)

    async def push(self, frame: Frame, direction: Direction = DOWN) -> None:
        """Send ``frame`` to the neighbour in ``direction`` (dropped at either end of the pipeline)."""
        target = self._next if direction is DOWN else self._prev
        if target is not None:
            await target.queue_frame(frame, direction)


class QueuedProcessor(Processor):
    """A stage with its own task: data and control frames are processed one at a time, in order.

    System frames skip the queue (handled at once in the pushing task). An
    :class:`~.frames.InterruptionFrame` also drops every queued frame that is not an
    :class:`~.frames.UninterruptibleFrame` and cancels the frame being processed; the worker is
    restarted, and the cancelled one is awaited for at most :data:`TASK_CANCEL_TIMEOUT_S`
    *after* the interruption has been passed on, so a slow engine never delays the ``clear``.
    """

    def __init__(self, *, name: Optional[str] = None) -> None:
        super().__init__(name=name)
        self._queue: deque[tuple[Frame, Direction]] = deque()
        self._ready = asyncio.Event()
        self._worker: Optional[asyncio.Task[None]] = None
        self._busy_with: Optional[Frame] = None

    async def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._work(), name=f"{self.name}-worker")

    async def stop(self) -> None:
        self._queue.clear()
        await cancel_and_wait(self._worker)

    async def queue_frame(self, frame: Frame, direction: Direction = DOWN) -> None:
        if isinstance(frame, SystemFrame):
            if isinstance(frame, InterruptionFrame):
                stale = self._interrupt()
                await self.process_frame(frame, direction)
                await cancel_and_wait(stale)
            else:
                await self.process_frame(frame, direction)
            return
        self._queue.append((frame, direction))
        self._ready.set()

    def _interrupt(self) -> Optional[asyncio.Task[None]]:
        """Drop interruptible queued frames and swap in a fresh worker; return the old one."""
        kept = deque(item for item in self._queue if isinstance(item[0], UninterruptibleFrame))
        self._queue = kept
        stale = None
        if self._busy_with is not None and not isinstance(self._busy_with, UninterruptibleFrame):
            stale = self._worker
            if stale is not None:
                stale.cancel()
            self._busy_with = None
            self._worker = asyncio.get_running_loop().create_task(self._work(), name=f"{self.name}-worker")
        if kept:
            self._ready.set()
        return stale

    async def _work(self) -> None:
        while True:
            if not self._queue:
                self._ready.clear()
                await self._ready.wait()
                continue
            frame, direction = self._queue.popleft()
            self._busy_with = frame
            try:
                await self.process_frame(frame, direction)
            except Exception as error:  # noqa: BLE001 - a stage's failure is reported, never silent
                self.failed(error)
            finally:
                if self._busy_with is frame:
                    self._busy_with = None

    def failed(self, error: Exception) -> None:
        """Processing a queued frame raised; the default logs it and goes on with the next frame."""
        get_logger("gateway").exception(f"{self.name} failed", extra={"error": repr(error)})


class Pipeline:
    """A list of processors linked in order; frames enter at either end."""

    def __init__(self, processors: Sequence[Processor]) -> None:
        if not processors:
            raise ValueError("a pipeline needs at least one processor")
        self.processors = list(processors)
        for upper, lower in zip(self.processors, self.processors[1:], strict=False):
            upper.link(lower)

    async def start(self) -> None:
        """Start every processor, top to bottom."""
        for processor in self.processors:
            await processor.start()

    async def stop(self) -> None:
        """Stop every processor, bottom to top; a failing stop never skips the others."""
        for processor in reversed(self.processors):
            try:
                await processor.stop()
            except Exception:  # noqa: BLE001 - one stage failing to stop must not keep the others running
                get_logger("gateway").exception(f"{processor.name} failed to stop")

    async def push(self, frame: Frame) -> None:
        """A frame from the caller's side, into the first processor."""
        await self.processors[0].queue_frame(frame, DOWN)

