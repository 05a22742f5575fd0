"""Cold start of the API Lambda: importing ``functions/app.py`` in a fresh interpreter, against ``import boto3``.

Each sample is a new ``python -c`` process that times one import with ``time.perf_counter`` (the
interpreter's own start-up is not counted). The two imports alternate so that machine noise hits
both alike; the figures are medians. ``boto3`` is the baseline because it is what a minimal
Python Lambda that touches AWS imports anyway.

Bytecode is controlled, not left to the machine: every process reads and writes ``.pyc`` files
under a private ``PYTHONPYCACHEPREFIX`` that warm-up runs fill, so both imports find compiled
bytecode for every module (the checkout's own ``__pycache__``, or its absence under
``PYTHONDONTWRITEBYTECODE``, does not matter). ``api.cold_import_uncompiled_ms`` is the app again
with the bytecode of ``callingbox/`` and ``functions/`` removed: what a deployment package that
ships our sources without ``.pyc`` pays on every cold start (Lambda's task root is read-only, so
nothing is cached there).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Mapping

from . import Figures, figure
from .percentiles import median

__all__ = ["run", "RUNS", "HEAVY_MODULES", "time_import", "slowest_packages"]

RUNS = 21  # samples of each import (the brief asks for at least 15)
UNCOMPILED_RUNS = 11  # samples of the app without bytecode for our own packages
WARMUP_RUNS = 2  # untimed runs first: they compile into the private cache and warm the page cache
# Modules the API must not load: voice, numeric, CRT and schema libraries, and boto3 itself.
HEAVY_MODULES = ("twilio", "numpy", "awscrt", "websockets", "jsonschema", "boto3")
TOP_PACKAGES = 8  # slowest packages listed from one -X importtime run

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
OUR_PACKAGES = (ROOT / "callingbox", FUNCTIONS)

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


def bytecode_environment(cache: Path, *, write: bool = True) -> dict[str, str]:
    """This environment with ``.pyc`` files kept under ``cache`` (and written there unless ``write`` is off)."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    # The dev environment also holds the voice gateway's awscrt, which botocore imports when present;
    # the Lambda bundle has no awscrt, so neither side of the comparison may load it.
    env["BOTO_DISABLE_CRT"] = "true"
    if not write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _python(code: str, env: Mapping[str, str], *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *options, "-c", code], cwd=ROOT, env=dict(env),
                          capture_output=True, text=True, check=True)


def time_import(statement: str, env: Mapping[str, str]) -> tuple[float, list[str]]:
    """One cold ``statement`` in a new interpreter: milliseconds, and which heavy modules it loaded."""
    output = _python(_TIMED.format(functions=str(FUNCTIONS), statement=statement, heavy=HEAVY_MODULES), env)
    elapsed, _, heavy = output.stdout.strip().partition(" ")
    return float(elapsed), [name for name in heavy.split(",") if name]


def slowest_packages(statement: str, env: Mapping[str, str], count: int = TOP_PACKAGES) -> list[tuple[str, float]]:
    """The top-level packages whose modules took longest to import under ``statement``.

    Sums each module's own ("self") ``-X importtime`` by its top-level package, in milliseconds.
    """
    code = f"import sys; sys.path.insert(0, {str(FUNCTIONS)!r})\n{statement}"
    report = _python(code, env, "-X", "importtime").stderr
    totals: dict[str, float] = {}
    for line in report.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        package = name.strip().split(".")[0]
        totals[package] = totals.get(package, 0.0) + int(own) / 1000
    return sorted(totals.items(), key=lambda item: item[1], reverse=True)[:count]


def _alternating(env: Mapping[str, str]) -> tuple[list[float], list[float], set[str]]:
    app_ms: list[float] = []
    boto3_ms: list[float] = []
    heavy: set[str] = set()
    for index in range(RUNS):
        # Alternate which goes first, so that neither always runs right after the other.
        order = (APP_IMPORT, BOTO3_IMPORT) if index % 2 == 0 else (BOTO3_IMPORT, APP_IMPORT)
        for statement in order:
            elapsed, loaded = time_import(statement, env)
            if statement == APP_IMPORT:
                app_ms.append(elapsed)
                heavy.update(loaded)
            else:
                boto3_ms.append(elapsed)
    return app_ms, boto3_ms, heavy


def _without_our_bytecode(cache: Path) -> list[float]:
    for package in OUR_PACKAGES:
        shutil.rmtree(cache / package.relative_to(package.anchor), ignore_errors=True)
    env = bytecode_environment(cache, write=False)
    return [time_import(APP_IMPORT, env)[0] for _ in range(UNCOMPILED_RUNS)]


def run() -> Figures:
    """Median cold import of the API app and of boto3, alternating, and their ratio."""
    with tempfile.TemporaryDirectory(prefix="callingbox-bench-pyc-") as directory:
        cache = Path(directory)
        env = bytecode_environment(cache)
        for _ in range(WARMUP_RUNS):
            time_import(APP_IMPORT, env)
            time_import(BOTO3_IMPORT, env)
        app_ms, boto3_ms, heavy = _alternating(env)
        slowest = slowest_packages(APP_IMPORT, env)
        uncompiled_ms = _without_our_bytecode(cache)
    app_median, boto3_median = median(app_ms), median(boto3_ms)
    print(f"  heavy modules loaded by the app: {', '.join(sorted(heavy)) or 'none'}")
    print("  import time by package under the app (self time, one -X importtime run): "
          + ", ".join(f"{name} {ms:.0f} ms" for name, ms in slowest))
    return {
        "api.cold_import_ms": figure(app_median, "ms", runs=RUNS, min=round(min(app_ms), 1),
                                     heavy_modules=",".join(sorted(heavy)) or "none"),
        "api.cold_import_boto3_ms": figure(boto3_median, "ms", runs=RUNS, min=round(min(boto3_ms), 1)),
        "api.cold_import_ratio": figure(app_median / boto3_median, "x", goal="<= 1.6"),
        "api.cold_import_uncompiled_ms": figure(median(uncompiled_ms), "ms", runs=UNCOMPILED_RUNS,
                                                note="no .pyc for callingbox/ and functions/"),
    }
