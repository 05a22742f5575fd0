"""Names and the table schema of every AWS resource: the one definition that the CDK app, the
local stack and the code all read (ARCHITECTURE rule 2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "TABLE_NAME",
    "PARTITION_KEY",
    "SORT_KEY",
    "TTL_ATTRIBUTE",
    "CALL_INDEXES",
    "CallIndex",
    "LIVE_INDEX",
    "LiveIndex",
    "QUEUES",
    "QueueSpec",
    "DIAL_CONCURRENCY",
    "DIAL_BATCH_SIZE",
    "EVENT_BUS_NAME",
    "RECORDINGS_BUCKET",
    "table_definition",
]

TABLE_NAME = "callingbox"
PARTITION_KEY = "PK"
SORT_KEY = "SK"
TTL_ATTRIBUTE = "expires_at"
EVENT_BUS_NAME = "callingbox"
RECORDINGS_BUCKET = "callingbox-recordings"


@dataclass(frozen=True)
class CallIndex:
    """A GSI over calls: partition ``<workspace>#<field>#<value>``, sorted by the call's SK (its id)."""

    name: str
    attribute: str
    field: str


# One index per call-list filter that can stand alone; the SK (``call#<time-sortable id>``)
# is the range key of each, so every list is newest-first and created_after/before are key ranges.
CALL_INDEXES: tuple[CallIndex, ...] = (
    CallIndex(name="calls_by_agent", attribute="GSI1PK", field="agent_id"),
    CallIndex(name="calls_by_status", attribute="GSI2PK", field="status"),
    CallIndex(name="calls_by_to", attribute="GSI3PK", field="to_number"),
    CallIndex(name="calls_by_from", attribute="GSI4PK", field="from_number"),
    CallIndex(name="calls_by_direction", attribute="GSI5PK", field="direction"),
)


@dataclass(frozen=True)
class LiveIndex:
    """A sparse GSI over the calls that are live right now, across every workspace.

    Only a call in ``ringing`` or ``in_progress`` carries ``attribute`` (its value is always
    ``partition``); the status write that ends the call removes it, so the index holds live calls
    only and the sweeper finds them with one query instead of scanning every workspace. Sorted by
    the call's SK. It projects just what the sweeper filters on (``projected``), not the document,
    so the index stays small; the item's PK (the workspace) and SK (the call id) come with any GSI.
    """

    name: str
    attribute: str
    partition: str
    projected: tuple[str, ...]


LIVE_INDEX = LiveIndex(name="live_calls", attribute="LIVEPK", partition="live",
                       projected=("status", "heartbeat_at"))


@dataclass(frozen=True)
class QueueSpec:
    """An SQS queue and its dead-letter queue."""

    name: str
    dlq_name: str
    visibility_timeout_s: int
    max_receive_count: int


QUEUES: dict[str, QueueSpec] = {
    "dial": QueueSpec("callingbox-dial", "callingbox-dial-dlq", 60, 5),
    "extraction": QueueSpec("callingbox-extraction", "callingbox-extraction-dlq", 300, 5),
    "webhooks": QueueSpec("callingbox-webhooks", "callingbox-webhooks-dlq", 60, 10),
}


# Dialer instances working the dial queue at once (the Lambda event source's maximum concurrency,
# the local stack's pollers), each taking batches of DIAL_BATCH_SIZE jobs. A batch holds the next
# DIAL_BATCH_SIZE pacing slots, so at 20 calls per second one instance dials for half a second, then
# spends a moment on its queue and its next batch; a second covers that moment, a third any hiccup.
# Claims waiting for their slots count as live calls: up to 30 of them against a workspace's cap.
DIAL_CONCURRENCY = 3
DIAL_BATCH_SIZE = 10


def _index(name: str, attribute: str, projection: dict[str, Any]) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": attribute, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        "Projection": projection,
    }


def table_definition(table_name: str = TABLE_NAME) -> dict[str, Any]:
    """The CreateTable request for the single table (on-demand), shared by CDK and the local stack."""
    attributes = [PARTITION_KEY, SORT_KEY, *(index.attribute for index in CALL_INDEXES), LIVE_INDEX.attribute]
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": name, "AttributeType": "S"} for name in attributes],
        "KeySchema": [
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            *(_index(index.name, index.attribute, {"ProjectionType": "ALL"}) for index in CALL_INDEXES),
            _index(LIVE_INDEX.name, LIVE_INDEX.attribute,
                   {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(LIVE_INDEX.projected)}),
        ],
    }
