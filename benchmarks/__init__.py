"""CallingBox benchmarks: ``make bench`` (``python -m benchmarks``) runs every module in :data:`BENCHMARKS`.

Each benchmark module exposes ``run() -> dict[str, dict]`` returning figures such as
``{"api.cold_import_ms": {"value": 310.2, "unit": "ms", ...extra info}}``; see ``README.md``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BENCHMARKS", "Figures", "figure"]

# Run in this order by ``python -m benchmarks``.
BENCHMARKS: tuple[str, ...] = ("api_cold_import", "api_warm_latency", "gateway_latency", "gateway_greeting",
                               "gateway_bargein", "gateway_capacity", "dialer_rate", "webhooks_delivery",
                               "infra_synth")

Figures = dict[str, dict[str, Any]]


def figure(value: float, unit: str, **info: Any) -> dict[str, Any]:
    """One figure: its value (rounded to 0.01), its unit and any extra information to print."""
    return {"value": round(float(value), 2), "unit": unit, **info}
