"""The workers: plain Powertools handlers on Lambda, three fed by SQS and the sweeper on a schedule.

Chalice cannot report SQS batch item failures, so these are ordinary functions built from one
asset (:func:`infra.bundles.stage_bundles`: the core, the Lambda dependencies and
``functions/workers``); each loads ``workers.<module>.handler``. Every SQS event source reports
batch item failures, so one bad message is retried alone instead of its whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from callingbox.core import resources

from ..bundles import LAMBDA_PYTHON
from ..nag import acknowledge

__all__ = ["WorkerSpec", "WORKERS", "Workers", "LAMBDA_RUNTIME", "LATEST_RUNTIME_REASON"]

# The runtime the bundle's wheels were fetched for.
LAMBDA_RUNTIME = lambda_.Runtime(f"python{LAMBDA_PYTHON}", lambda_.RuntimeFamily.PYTHON)


LATEST_RUNTIME_REASON = (
    f"python{LAMBDA_PYTHON} is a supported runtime (Lambda deprecates it in 2028-10), chosen over the newest "
    "because 3.13 dropped audioop, which the core's mu-law module imports; moving on is one constant "
    "(infra.bundles.LAMBDA_PYTHON) once audioop-lts is in the server extra.")


@dataclass(frozen=True)
class WorkerSpec:
    """One worker function.

    ``queue`` names its SQS source in ``resources.QUEUES`` (``None``: runs on ``schedule``). The
    timeout stays under the queue's visibility timeout (Lambda refuses the mapping otherwise).
    """

    name: str
    handler: str
    timeout_s: int
    memory_mb: int = 512
    queue: Optional[str] = None
    batch_size: int = 10
    reserved_concurrency: Optional[int] = None
    max_concurrency: Optional[int] = None
    """At most this many instances invoked at once by the queue's event source (None: as SQS scales)."""
    schedule: Optional[events.Schedule] = None


WORKERS: tuple[WorkerSpec, ...] = (
    # A few dialers at once share the account's calls-per-second slots in the table; a batch ends by
    # its latest slot (at most the 20 s pacing wait) plus one carrier request (15 s at worst).
    WorkerSpec("dialer", "workers.dialer.handler", timeout_s=45, queue="dial",
               batch_size=resources.DIAL_BATCH_SIZE, max_concurrency=resources.DIAL_CONCURRENCY),
    # One call per invocation: each is a model request that may take a minute; failures stay isolated.
    WorkerSpec("extraction", "workers.extraction.handler", timeout_s=240, memory_mb=1024, queue="extraction",
               batch_size=1),
    WorkerSpec("webhooks", "workers.webhooks.handler", timeout_s=55, queue="webhooks", batch_size=5),
    WorkerSpec("sweeper", "workers.sweeper.handler", timeout_s=55,
               schedule=events.Schedule.rate(cdk.Duration.minutes(1))),
)


class Workers(Construct):
    """The worker functions: ``functions[name]``, ``roles[name]``, ``log_groups[name]`` (names of :data:`WORKERS`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        asset_dir: Path,
        queues: Mapping[str, sqs.IQueue],
        environment: Mapping[str, Mapping[str, str]],
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        code = lambda_.Code.from_asset(str(asset_dir))
        self.functions: dict[str, lambda_.Function] = {}
        self.roles: dict[str, iam.Role] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        for spec in WORKERS:
            title = spec.name.title()
            role = iam.Role(self, f"{title}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                            description=f"CallingBox {spec.name} worker")
            log_group = logs.LogGroup(self, f"{title}Logs", retention=log_retention,
                                      removal_policy=cdk.RemovalPolicy.DESTROY)
            log_group.grant_write(role)
            function = lambda_.Function(
                self, title,
                description=f"CallingBox {spec.name} worker",
                runtime=LAMBDA_RUNTIME,
                architecture=lambda_.Architecture.X86_64,
                code=code,
                handler=spec.handler,
                role=role,
                log_group=log_group,
                timeout=cdk.Duration.seconds(spec.timeout_s),
                memory_size=spec.memory_mb,
                reserved_concurrent_executions=spec.reserved_concurrency,
                environment=dict(environment[spec.name]),
            )
            if spec.queue is not None:
                visibility = resources.QUEUES[spec.queue].visibility_timeout_s
                if spec.timeout_s > visibility:
                    raise ValueError(f"{spec.name}: timeout {spec.timeout_s}s exceeds the {spec.queue} queue's "
                                     f"visibility timeout {visibility}s")
                function.add_event_source(sources.SqsEventSource(
                    queues[spec.queue], batch_size=spec.batch_size, report_batch_item_failures=True,
                    max_concurrency=spec.max_concurrency))
            if spec.schedule is not None:
                events.Rule(self, f"{title}Schedule", schedule=spec.schedule,
                            targets=[targets.LambdaFunction(function, retry_attempts=0)])
            acknowledge(function, "AwsSolutions-L1", LATEST_RUNTIME_REASON)
            self.functions[spec.name] = function
            self.roles[spec.name] = role
            self.log_groups[spec.name] = log_group
