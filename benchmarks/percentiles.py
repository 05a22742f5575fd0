"""Order statistics of timing samples."""

from __future__ import annotations

import math
from typing import Sequence

__all__ = ["percentile", "median"]


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The ``fraction`` (0–1) percentile of ``samples``, linearly interpolated between closest ranks."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    position = (len(ordered) - 1) * fraction
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def median(samples: Sequence[float]) -> float:
    """The 50th percentile of ``samples``."""
    return percentile(samples, 0.5)
