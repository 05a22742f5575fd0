"""Structured logs and metrics (Powertools), shared by the API, the workers and the voice gateway.

Powertools' own guidance is one Logger and one Metrics per process; these factories build them on
first use so that importing a module never pays for them.

Every metric goes to the ``CallingBox`` namespace as CloudWatch embedded metric format (EMF): one
JSON line on stdout, which CloudWatch Logs turns into the metric (Lambda's log stream; the voice
gateway's ``awslogs`` log driver on Fargate). The names the deployment reads (autoscaling,
dashboard, alarms: ``infra/metrics.py``) are defined here, next to the code that publishes them.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, Mapping, Optional

__all__ = [
    "get_logger",
    "get_metrics",
    "emit_metric",
    "service_name",
    "process_service",
    "SERVICE_VARIABLE",
    "SERVICE",
    "NAMESPACE",
    "ACTIVE_CALLS_METRIC",
    "CALL_STATUS_METRIC",
]

SERVICE = "callingbox"
NAMESPACE = "CallingBox"
# Powertools' variable naming the process's service (infra sets it on every Lambda function; the
# gateway's entry point sets it for itself).
SERVICE_VARIABLE = "POWERTOOLS_SERVICE_NAME"

ACTIVE_CALLS_METRIC = "ActiveCalls"
"""Live calls on one gateway task (``Count``, dimension ``service`` only), at least once a minute:
the autoscaling tracks its ``Average`` across tasks."""

CALL_STATUS_METRIC = "CallStatus"
"""One ``Count`` per call status change (dimensions ``service`` and ``status``), for the dashboard."""


def service_name(component: str) -> str:
    """The ``service`` dimension of ``component``'s metrics and logs (``callingbox-<component>``)."""
    return f"{SERVICE}-{component}"


def process_service() -> str:
    """This process's service: ``POWERTOOLS_SERVICE_NAME`` when set, else ``callingbox``."""
    return os.environ.get(SERVICE_VARIABLE) or SERVICE


@lru_cache(maxsize=None)
def get_logger(component: str) -> Any:
    """A Powertools Logger whose records carry ``component`` (api, dialer, gateway…)."""
    from aws_lambda_powertools import Logger

    return Logger(service=service_name(component))


@lru_cache(maxsize=None)
def get_metrics(component: str) -> Any:
    """A Powertools Metrics (CloudWatch EMF) for ``component``.

    Limitations: every Powertools ``Metrics`` of a process shares one metric set and one set of
    dimensions, flushed together; use :func:`emit_metric` for a metric with dimensions of its own.
    """
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=NAMESPACE, service=service_name(component))


def emit_metric(name: str, value: float, *, unit: str = "Count", service: Optional[str] = None,
                dimensions: Optional[Mapping[str, str]] = None) -> None:
    """Publish one metric now, as an EMF document of its own (nothing else is flushed with it).

    Parameters:
        name: the metric name (e.g. :data:`CALL_STATUS_METRIC`).
        value: its value.
        unit: a CloudWatch unit (``Count``, ``Milliseconds``…).
        service: the ``service`` dimension; :func:`process_service` when omitted.
        dimensions: further dimensions (``service`` is always the first).

    Limitations: ``POWERTOOLS_METRICS_DISABLED`` (or ``POWERTOOLS_DEV``) turns it into a no-op,
    as for every Powertools metric.
    """
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    # A provider of its own: Powertools' Metrics class shares its dimensions process-wide, which
    # would mix this metric's dimensions with another's pending in the shared set.
    provider = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, service=service or process_service())
    provider.add_dimension(name="service", value=provider.service)
    for key, dimension in (dimensions or {}).items():
        provider.add_dimension(name=key, value=dimension)
    provider.add_metric(name=name, unit=unit, value=value)
    provider.flush_metrics()
