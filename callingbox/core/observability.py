"""Structured logs and metrics (Powertools), shared by the API and the workers.

Powertools' own guidance is one Logger and one Metrics per process; these factories build them on
first use so that importing a module never pays for them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

__all__ = ["get_logger", "get_metrics", "SERVICE", "NAMESPACE"]

SERVICE = "callingbox"
NAMESPACE = "CallingBox"


@lru_cache(maxsize=None)
def get_logger(component: str) -> Any:
    """A Powertools Logger whose records carry ``component`` (api, dialer, gateway…)."""
    from aws_lambda_powertools import Logger

    return Logger(service=f"{SERVICE}-{component}")


@lru_cache(maxsize=None)
def get_metrics(component: str) -> Any:
    """A Powertools Metrics (CloudWatch EMF) for ``component``."""
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=NAMESPACE, service=f"{SERVICE}-{component}")
