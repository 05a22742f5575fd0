"""Powertools idempotency for extraction jobs, on the single table.

Two guards, for two different failures:

1. **This layer** (Powertools ``idempotent_function``): a job id that already ran to completion is
   answered from its stored record, without reading the call or asking the model again; a copy of a
   job that is running right now fails fast (``IdempotencyAlreadyInProgressError``) and SQS
   delivers it again later. This is what saves the model calls.
2. **The conditional write** in :mod:`.worker` (``extraction.job_id`` re-checked under the call's
   version): Powertools deletes its record when the function raises, e.g. if emitting the event
   failed after the result was written, so the retry runs again; the write guard then refuses a
   second answer and the retry only re-reports the first. This is what makes "never twice to a
   different answer" hold whatever fails.

The records live in our one table (Powertools supports a composite key): ``PK`` =
``jobs#extraction`` (static), ``SK`` = ``extraction#<md5 of [workspace_id, call_id, job_id]>``,
expiring through the table's TTL attribute. One static partition is fine for the write rate of
call endings (far below a partition's 1,000 writes/s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from .. import resources
from ..settings import Settings
from .types import ExtractionJob

if TYPE_CHECKING:  # pragma: no cover
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.idempotency.persistence.dynamodb import DynamoDBPersistenceLayer

__all__ = ["IDEMPOTENCY_PARTITION", "IDEMPOTENCY_TTL_S", "persistence_layer", "idempotency_config", "idempotent"]

IDEMPOTENCY_PARTITION = "jobs#extraction"
KEY_PREFIX = "extraction"
# Longer than any redelivery of a job (5 deliveries x 300 s visibility) and a re-extraction's
# lifetime; afterwards the write guard alone answers a (very) late copy.
IDEMPOTENCY_TTL_S = 24 * 3600
JOB_KEY = "[workspace_id, call_id, job_id]"


def persistence_layer(settings: Settings, *, boto3_client: Any = None) -> "DynamoDBPersistenceLayer":
    """The Powertools DynamoDB persistence layer on ``settings``' table (see the module docstring)."""
    from aws_lambda_powertools.utilities.idempotency.persistence.dynamodb import DynamoDBPersistenceLayer

    if boto3_client is None:
        from ..aws_clients import create_boto3_client

        boto3_client = create_boto3_client("dynamodb", region_name=settings.region,
                                           endpoint_url=settings.aws_endpoint_url)
    return DynamoDBPersistenceLayer(
        table_name=settings.table_name,
        key_attr=resources.PARTITION_KEY,
        sort_key_attr=resources.SORT_KEY,
        static_pk_value=IDEMPOTENCY_PARTITION,
        expiry_attr=resources.TTL_ATTRIBUTE,
        # Prefixed names: these items share the table with ours, whose "status" means a call status.
        status_attr="idem_status",
        data_attr="idem_data",
        validation_key_attr="idem_validation",
        in_progress_expiry_attr="idem_in_progress_expires_ms",
        boto3_client=boto3_client,
    )


def idempotency_config() -> "IdempotencyConfig":
    """Keyed on the job's identity (not on ``receive_count`` or ``reason``)."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    return IdempotencyConfig(event_key_jmespath=JOB_KEY, raise_on_no_idempotency_key=True,
                             expires_after_seconds=IDEMPOTENCY_TTL_S)


def idempotent(process: Callable[[ExtractionJob], dict[str, Any]], *, persistence: "DynamoDBPersistenceLayer",
               config: Optional["IdempotencyConfig"] = None) -> Callable[[ExtractionJob], dict[str, Any]]:
    """``process`` wrapped so that each job identity runs to completion at most once.

    Call ``config.register_lambda_context(context)`` in the Lambda handler, so that a job whose
    Lambda timed out mid-way is not considered in progress beyond that invocation.
    """
    from aws_lambda_powertools.utilities.idempotency import idempotent_function

    config = config or idempotency_config()

    @idempotent_function(data_keyword_argument="job", persistence_store=persistence, config=config,
                         key_prefix=KEY_PREFIX)
    def run(job: dict[str, Any]) -> dict[str, Any]:
        return process(ExtractionJob.from_body(job, receive_count=int(job.get("receive_count") or 1)))

    def call(job: ExtractionJob) -> dict[str, Any]:
        return dict(run(job={**job.to_body(), "job_id": job.job_id, "receive_count": job.receive_count}))

    call.config = config  # type: ignore[attr-defined]
    return call
