"""Where a warm request's in-process time goes: cProfile over the request loop (not a benchmark).

``python -m benchmarks.profile_requests [create|list ...]`` builds the same warm API as
:mod:`.api_warm_latency` and profiles only this thread. The emulator's server threads are not
profiled; the time spent waiting on them shows up under botocore's HTTP ``send`` (``recv_into``).
Two views per operation: everything by own time, then our code, Chalice, PynamoDB and Powertools
by cumulative time.
"""

from __future__ import annotations

import cProfile
import gc
import io
import pstats
import sys
import time
from typing import Callable

from .api_warm_latency import CALLS_IN_TABLE, CREATE_REQUESTS, LIST_REQUESTS, WARMUP_REQUESTS, start_warm_api

__all__ = ["profile", "main"]

TOP_FUNCTIONS = 30
OUR_SIDE = r"callingbox/|chalicelib/|pynamodb/|aws_lambda_powertools/|chalice/(app|local|test)"


def profile(name: str, operation: Callable[[], float], count: int) -> str:
    """Profile ``count`` calls of ``operation`` after a warm-up; returns the printed statistics."""
    for _ in range(WARMUP_REQUESTS):
        operation()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(count):
        operation()
    profiler.disable()
    each = (time.perf_counter() - started) * 1000 / count
    out = io.StringIO()
    out.write(f"### {name}: {count} requests, {each:.2f} ms each under the profiler\n")
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(TOP_FUNCTIONS)
    stats.sort_stats("cumulative").print_stats(OUR_SIDE, TOP_FUNCTIONS)
    return out.getvalue()


def main(argv: list[str]) -> int:
    """Profile the operations named in ``argv`` (default: create and list)."""
    api = start_warm_api()
    try:
        api.seed_calls(CALLS_IN_TABLE)
        gc.collect()
        gc.freeze()
        operations = {"create": (api.create_call, CREATE_REQUESTS), "list": (api.list_calls, LIST_REQUESTS)}
        for name in argv or list(operations):
            operation, count = operations[name]
            print(profile(name, operation, count), flush=True)
    finally:
        gc.unfreeze()
        api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
