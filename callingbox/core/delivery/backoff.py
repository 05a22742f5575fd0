"""When to retry a failed delivery: exponential backoff with full jitter, for at least 24 hours.

The ceiling starts at :data:`FIRST_RETRY_CEILING_S` and doubles after each failure up to
:data:`MAX_DELAY_S`; each delay is drawn uniformly below the ceiling ("full jitter"), so the many
deliveries that fail together when a receiver goes down do not come back together. Retries go on
until :data:`RETRY_WINDOW_S` has passed since the delivery (or its redelivery) started; the
delivery is then dead-lettered. With these numbers that is about 50 attempts.

``scale`` (``Settings.webhook_backoff_scale``) multiplies every delay and the window alike: tests
and benchmarks run a day of retries in seconds.
"""

from __future__ import annotations

import random
from typing import Callable, Optional

__all__ = ["FIRST_RETRY_CEILING_S", "MAX_DELAY_S", "RETRY_WINDOW_S", "retry_delay", "next_attempt_at",
           "MAX_QUEUE_DELAY_S"]

# The first retry comes within 30 s: a receiver that blipped recovers within a minute.
FIRST_RETRY_CEILING_S = 30.0
# Never wait more than an hour between attempts, however long the receiver has been down.
MAX_DELAY_S = 3600.0
# Keep trying for a day: long enough to ride out a receiver's outage over a night.
RETRY_WINDOW_S = 24 * 3600.0
# SQS's DelaySeconds limit; later attempts are reached by re-enqueueing.
MAX_QUEUE_DELAY_S = 900


def retry_delay(failures: int, *, scale: float = 1.0, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait after the ``failures``-th failed attempt (1 for the first)."""
    ceiling = min(MAX_DELAY_S, FIRST_RETRY_CEILING_S * 2 ** max(failures - 1, 0))
    return rng() * ceiling * scale


def next_attempt_at(now: float, *, window_started_at: float, failures: int, scale: float = 1.0,
                    rng: Callable[[], float] = random.random) -> Optional[float]:
    """When to try again after a failure at ``now``; None once the retry window is spent (dead-letter)."""
    if now - window_started_at >= RETRY_WINDOW_S * scale:
        return None
    return now + retry_delay(failures, scale=scale, rng=rng)
