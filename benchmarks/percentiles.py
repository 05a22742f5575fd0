"""Order statistics of timing samples."""

from __future__ import annotations

import math
from typing import Sequence

__all__ = ["percentile", "median", "median_difference_interval"]


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


def median_difference_interval(first: Sequence[float], second: Sequence[float], *, confidence: float = 0.95,
                               resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """A bootstrap interval for ``median(first) - median(second)`` (the two resampled independently)."""
    import random

    rng = random.Random(seed)
    differences = sorted(
        median(rng.choices(first, k=len(first))) - median(rng.choices(second, k=len(second)))
        for _ in range(resamples)
    )
    tail = (1 - confidence) / 2
    return percentile(differences, tail), percentile(differences, 1 - tail)
