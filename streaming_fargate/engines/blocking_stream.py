"""Blocking SDK streams (boto3 event streams, HTTP bodies) consumed from the event loop."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Iterable, Optional, TypeVar

__all__ = ["iterate_in_thread"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class _End:
    pass


_END = _End()


@dataclass
class _Closer:
    """The close function of the stream a worker opened, set under a lock so cancel never misses it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    stopped: bool = False
    close: Optional[Callable[[], None]] = None

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            close, self.close = self.close, None
        if close is not None:
            _close_quietly(close)


def _close_quietly(close: Callable[[], None]) -> None:
    try:
        close()
    except Exception as exc:  # closing a half-read HTTP body can raise; the stream is gone anyway
        logger.debug("closing stream: %r", exc)


async def iterate_in_thread(
    open_stream: Callable[[], tuple[Iterable[T], Callable[[], None]]], *, name: str
) -> AsyncIterator[T]:
    """Run a blocking stream in a daemon thread and yield its items on the event loop.

    ``open_stream`` runs in the thread and returns ``(items, close)``: the blocking iterable and a
    function that closes the underlying HTTP body. Items are handed over as they come. Errors raised
    in the thread are raised here. When the consumer stops early (task cancellation or ``aclose()``;
    after a ``break``, when the generator is finalized), ``close`` is called at once and the thread
    ends without posting anything more.

    A daemon thread rather than the default executor: a cancelled reply may leave the thread
    blocked in a socket read until the read timeout, and must not hold up executor shutdown.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    closer = _Closer()

    def post(item: Any) -> bool:
        if closer.stopped:
            return False
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop has closed
            return False
        return True

    def work() -> None:
        close: Optional[Callable[[], None]] = None
        try:
            items, close = open_stream()
            with closer.lock:
                if not closer.stopped:
                    closer.close = close
            if closer.stopped:
                return
            for item in items:
                if not post(item):
                    return
            post(_END)
        except BaseException as exc:  # raised on the consumer's side, unless it already left
            if not closer.stopped:
                post(exc)
        finally:
            if close is not None:
                _close_quietly(close)

    threading.Thread(target=work, name=name, daemon=True).start()
    try:
        while True:
            item = await queue.get()
            if isinstance(item, _End):
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        closer.stop()
