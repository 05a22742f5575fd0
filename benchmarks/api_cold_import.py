"""Cold start of the API Lambda: importing ``functions/app.py`` in a fresh interpreter, against ``import boto3``.

Each sample is a new ``python -c`` process that times one import with ``time.perf_counter`` (the
interpreter's own start-up is not counted). The two imports alternate so that machine noise hits
both alike; the figures are medians. ``boto3`` is the baseline because it is what a minimal
Python Lambda that touches AWS imports anyway.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from . import Figures, figure
from .percentiles import median

__all__ = ["run", "RUNS", "HEAVY_MODULES"]

RUNS = 21  # samples of each import (the brief asks for at least 15)
WARMUP_RUNS = 2  # untimed runs first, so that every sample finds compiled bytecode
# Modules the API must not load: voice, numeric, CRT and schema libraries, and boto3 itself.
HEAVY_MODULES = ("twilio", "numpy", "awscrt", "websockets", "jsonschema", "boto3")
TOP_IMPORTS = 8  # slowest packages listed from one -X importtime run

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"

_TIMED = """\
import sys, time
sys.path.insert(0, {functions!r})
started = time.perf_counter()
{statement}
elapsed_ms = (time.perf_counter() - started) * 1000
heavy = [name for name in {heavy!r} if name in sys.modules]
print(repr(elapsed_ms), ",".join(heavy))
"""

APP_IMPORT = "from app import app"
BOTO3_IMPORT = "import boto3"


def _python(code: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *options, "-c", code], cwd=ROOT, env=dict(os.environ),
                          capture_output=True, text=True, check=True)


def time_import(statement: str) -> tuple[float, list[str]]:
    """One cold ``statement`` in a new interpreter: milliseconds, and which heavy modules it loaded."""
    output = _python(_TIMED.format(functions=str(FUNCTIONS), statement=statement, heavy=HEAVY_MODULES))
    elapsed, _, heavy = output.stdout.strip().partition(" ")
    return float(elapsed), [name for name in heavy.split(",") if name]


def slowest_packages(statement: str, count: int = TOP_IMPORTS) -> list[tuple[str, float]]:
    """The top-level packages whose modules took longest to import under ``statement``.

    Sums each module's own ("self") ``-X importtime`` by its top-level package, in milliseconds.
    """
    code = f"import sys; sys.path.insert(0, {str(FUNCTIONS)!r})\n{statement}"
    report = _python(code, "-X", "importtime").stderr
    totals: dict[str, float] = {}
    for line in report.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        package = name.strip().split(".")[0]
        totals[package] = totals.get(package, 0.0) + int(own) / 1000
    return sorted(totals.items(), key=lambda item: item[1], reverse=True)[:count]


def run() -> Figures:
    """Median cold import of the API app and of boto3, alternating, and their ratio."""
    for _ in range(WARMUP_RUNS):
        time_import(APP_IMPORT)
        time_import(BOTO3_IMPORT)
    app_ms: list[float] = []
    boto3_ms: list[float] = []
    heavy: set[str] = set()
    for index in range(RUNS):
        # Alternate which goes first, so neither always follows the other's page-cache misses.
        order = (APP_IMPORT, BOTO3_IMPORT) if index % 2 == 0 else (BOTO3_IMPORT, APP_IMPORT)
        for statement in order:
            elapsed, loaded = time_import(statement)
            if statement == APP_IMPORT:
                app_ms.append(elapsed)
                heavy.update(loaded)
            else:
                boto3_ms.append(elapsed)
    app_median, boto3_median = median(app_ms), median(boto3_ms)
    slowest = ", ".join(f"{name} {ms:.0f} ms" for name, ms in slowest_packages(APP_IMPORT))
    print(f"  heavy modules loaded by the app: {', '.join(sorted(heavy)) or 'none'}")
    print(f"  import time by package under the app (self time, one -X importtime run): {slowest}")
    return {
        "api.cold_import_ms": figure(app_median, "ms", runs=RUNS, min=round(min(app_ms), 1),
                                     heavy_modules=sorted(heavy) or "none"),
        "api.cold_import_boto3_ms": figure(boto3_median, "ms", runs=RUNS, min=round(min(boto3_ms), 1)),
        "api.cold_import_ratio": figure(app_median / boto3_median, "x", goal="<= 1.6"),
    }
