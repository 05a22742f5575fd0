"""``python -m benchmarks``: run every benchmark, print its figures, write ``benchmarks/results.json``.

A benchmark that fails prints its traceback and the run goes on; the exit status is non-zero if
any failed. ``python -m benchmarks api_cold_import`` runs only the named modules.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path

from . import BENCHMARKS, Figures

RESULTS = Path(__file__).resolve().parent / "results.json"


def _print_figure(name: str, data: dict[str, object]) -> None:
    extra = {key: value for key, value in data.items() if key not in ("value", "unit")}
    suffix = "".join(f"  {key}={value}" for key, value in extra.items())
    print(f"  {name:<34} {data['value']:>10.2f} {data['unit']}{suffix}", flush=True)


def main(argv: list[str]) -> int:
    """Run the benchmarks named in ``argv`` (all when empty); returns the exit status."""
    names = argv or list(BENCHMARKS)
    results: Figures = {}
    failed: list[str] = []
    for name in names:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"{__package__}.{name}")
            figures: Figures = module.run()
        except Exception:
            traceback.print_exc()
            print(f"== {name}: FAILED after {time.perf_counter() - started:.1f} s", flush=True)
            failed.append(name)
            continue
        for figure_name, data in figures.items():
            _print_figure(figure_name, data)
            results[figure_name] = {"value": data["value"], "unit": data["unit"]}
        print(f"== {name}: done in {time.perf_counter() - started:.1f} s", flush=True)
    if argv and RESULTS.exists():
        # A partial run updates its own figures and keeps the others from the last full run.
        results = {**json.loads(RESULTS.read_text()), **results}
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {len(results)} figures to {RESULTS}")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
