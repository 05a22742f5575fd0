"""PynamoDB item classes on the one table (schema in :mod:`callingbox.core.resources`).

Each public object is kept whole as its JSON document (``doc``) beside the few attributes that
keys, indexes and conditional writes need. Reads return the stored JSON as is, so a list of 100
calls is assembled without parsing a single document.

Key layout (``ws`` = workspace id)::

    PK                 SK                         item
    ws#<ws>            workspace                  WorkspaceItem
    key#<sha256>       key                        ApiKeyItem      (key hash -> workspace)
    ws#<ws>            agent#<agent id>           AgentItem
    ws#<ws>            number#<pn id>             NumberItem
    e164#<+1…>         e164                       E164Item        (number -> owner, routing)
    ws#<ws>            rule#<pn id>#<+1…>         RuleItem        (one rule slot per caller)
    ws#<ws>            call#<call id>             CallItem        (+ GSI1..5 for list filters,
                                                                   + LIVEPK "live" while live)
    ws#<ws>            seg#<call id>#<seq:06d>    SegmentItem     (one transcript segment)
    ws#<ws>            idem#<key>                 IdempotencyItem (TTL 24 h)
    sid#<carrier sid>  sid                        CallSidItem     (inbound call sid -> call)
    pacer#<name>       pacer                      PacerItem       (the dialer's next free slot)
    ws#<ws>            evt#<evt id>               EventItem       (TTL 30 d; the delivered JSON)
    ws#<ws>            evtkey#<dedupe key>        EventKeyItem    (one event per state change)
    ws#<ws>            dlv#<evt id>#<dest>        DeliveryItem    (one per event and destination:
                                                                   dest "url" or a we_ id)
    ws#<ws>            we#<we id>                 WebhookEndpointItem
    ws#<ws>            webhook_secret             WebhookSecretItem (signs webhook_url deliveries)
    word#<ws>#<word>   <call id>                  WordItem        (transcript search: one per word
                                                                   per call, see .search_index)
    jobs#extraction    extraction#<hash>          Powertools idempotency record of an extraction
                                                  job (TTL; written by Powertools, no class here)

Indexes (all sorted by SK; definitions in :mod:`callingbox.core.resources`)::

    GSI1PK..GSI5PK     <ws>#<field>#<value>       calls_by_agent/status/to/from/direction
    LIVEPK             "live"                     live_calls: sparse, only ringing/in_progress
                                                  calls, across every workspace (the sweeper's)
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from .. import resources

__all__ = [
    "WorkspaceItem",
    "ApiKeyItem",
    "AgentItem",
    "NumberItem",
    "E164Item",
    "RuleItem",
    "CallItem",
    "SegmentItem",
    "IdempotencyItem",
    "CallSidItem",
    "PacerItem",
    "EventItem",
    "EventKeyItem",
    "DeliveryItem",
    "WebhookEndpointItem",
    "WebhookSecretItem",
    "WordItem",
    "ALL_ITEMS",
    "ws_key",
]


def ws_key(workspace_id: str) -> str:
    """The partition of everything a workspace owns."""
    return f"ws#{workspace_id}"


class _Item(Model):
    class Meta:
        table_name = resources.TABLE_NAME
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True, attr_name=resources.PARTITION_KEY)
    sk = UnicodeAttribute(range_key=True, attr_name=resources.SORT_KEY)


class _DocItem(_Item):
    doc = UnicodeAttribute()
    version = NumberAttribute(default=1)


class WorkspaceItem(_DocItem):
    """A tenant; every resource lives in exactly one."""


class ApiKeyItem(_Item):
    """An API key, found by the hash of the presented secret."""

    workspace_id = UnicodeAttribute()
    key_id = UnicodeAttribute()
    last4 = UnicodeAttribute()
    created = NumberAttribute()
    revoked = BooleanAttribute(default=False)


class AgentItem(_DocItem):
    """An agent; ``type`` and ``archived`` stand apart for list filters."""

    type = UnicodeAttribute()
    archived = BooleanAttribute(default=False)


class NumberItem(_DocItem):
    """A phone number; ``inbound_agent_id`` is the atomic 'who answers' slot.

    ``status`` is the lifecycle slot every attach conditions on: absent or ``active`` (usable),
    ``releasing`` (a release is checking attachments and talking to the carrier) or ``released``.
    """

    inbound_agent_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)


class E164Item(_Item):
    """Which workspace and number record own an E.164 number (one owner per deployment)."""

    workspace_id = UnicodeAttribute()
    number_id = UnicodeAttribute()


class RuleItem(_DocItem):
    """A filter rule; the slot is keyed by the caller's number so each caller has one rule."""

    rule_id = UnicodeAttribute()
    status = UnicodeAttribute()


def _call_index(spec: resources.CallIndex) -> GlobalSecondaryIndex:
    meta = type("Meta", (), {"index_name": spec.name, "projection": AllProjection()})
    index_class = type(
        spec.name,
        (GlobalSecondaryIndex,),
        {
            "Meta": meta,
            "partition": UnicodeAttribute(hash_key=True, attr_name=spec.attribute),
            "sk": UnicodeAttribute(range_key=True, attr_name=resources.SORT_KEY),
        },
    )
    return index_class()


class _LiveCalls(GlobalSecondaryIndex):
    """The sparse index of live calls (see :data:`callingbox.core.resources.LIVE_INDEX`)."""

    class Meta:
        index_name = resources.LIVE_INDEX.name
        projection = IncludeProjection(list(resources.LIVE_INDEX.projected))

    partition = UnicodeAttribute(hash_key=True, attr_name=resources.LIVE_INDEX.attribute)
    sk = UnicodeAttribute(range_key=True, attr_name=resources.SORT_KEY)


class CallItem(_DocItem):
    """A call; ``status`` stands apart because every status write is conditional on it.

    ``live`` holds ``"live"`` only while the status is ringing or in_progress (the status writes
    in :mod:`.calls` keep it so); ``heartbeat_at`` is the voice gateway's last sign of life (unix
    seconds) and ``recording_key`` the S3 key of the call's recording once it is written. None of
    the three is part of the public document.
    """

    status = UnicodeAttribute()
    gsi1pk = UnicodeAttribute(attr_name="GSI1PK")
    gsi2pk = UnicodeAttribute(attr_name="GSI2PK")
    gsi3pk = UnicodeAttribute(attr_name="GSI3PK")
    gsi4pk = UnicodeAttribute(attr_name="GSI4PK", null=True)
    gsi5pk = UnicodeAttribute(attr_name="GSI5PK")
    calls_by_agent = _call_index(resources.CALL_INDEXES[0])
    calls_by_status = _call_index(resources.CALL_INDEXES[1])
    calls_by_to = _call_index(resources.CALL_INDEXES[2])
    calls_by_from = _call_index(resources.CALL_INDEXES[3])
    calls_by_direction = _call_index(resources.CALL_INDEXES[4])
    live = UnicodeAttribute(attr_name=resources.LIVE_INDEX.attribute, null=True)
    heartbeat_at = NumberAttribute(null=True)
    recording_key = UnicodeAttribute(null=True)
    live_calls = _LiveCalls()


class SegmentItem(_Item):
    """One final transcript segment, written as the call goes; SK orders a call's segments by seq.

    Plain attributes rather than a JSON document, so that truncating an interrupted agent
    segment is one conditional attribute update.
    """

    call_id = UnicodeAttribute()
    seq = NumberAttribute()
    party = UnicodeAttribute()
    text = UnicodeAttribute()
    start_ms = NumberAttribute()
    end_ms = NumberAttribute()
    interrupted = BooleanAttribute(default=False)


class IdempotencyItem(_Item):
    """A replayable response to one ``Idempotency-Key`` (see :mod:`.idempotency`)."""

    request_hash = UnicodeAttribute()
    state = UnicodeAttribute()
    status_code = NumberAttribute(null=True)
    response = UnicodeAttribute(null=True)
    claim_expires_at = NumberAttribute(default=0)
    expires_at = NumberAttribute(attr_name=resources.TTL_ATTRIBUTE)


class CallSidItem(_Item):
    """Which call a carrier call sid belongs to: the number-level status callback of an inbound
    call names only the sid. Written before the call record, conditionally, so a retried voice
    webhook finds the call it already created."""

    workspace_id = UnicodeAttribute()
    call_id = UnicodeAttribute()
    expires_at = NumberAttribute(attr_name=resources.TTL_ATTRIBUTE)


class PacerItem(_Item):
    """A rate limit shared by every worker process: the next free slot (unix seconds, fractional)."""

    next_slot = NumberAttribute()
class EventItem(_DocItem):
    """An event; ``doc`` is its public JSON, the exact bytes every delivery sends.

    ``published`` (put on the EventBridge bus) and ``fanned_out`` (deliveries created) let a
    retried emitter or the fan-out job finish what a failed step left undone.
    """

    type = UnicodeAttribute()
    call_id = UnicodeAttribute(null=True)
    published = BooleanAttribute(default=False)
    fanned_out = BooleanAttribute(default=False)
    expires_at = NumberAttribute(attr_name=resources.TTL_ATTRIBUTE, null=True)


class EventKeyItem(_Item):
    """The dedupe key of one state change and the event it produced (written with the event)."""

    event_id = UnicodeAttribute()
    expires_at = NumberAttribute(attr_name=resources.TTL_ATTRIBUTE, null=True)


class DeliveryItem(_Item):
    """An event's delivery to one destination: its state and the log of every attempt.

    ``attempt_count`` attempts are done; the job for attempt ``scheduled_attempt`` is on the
    queue; ``lease_*`` marks the worker performing an attempt right now (see
    :mod:`callingbox.core.store.deliveries`).
    """

    event_id = UnicodeAttribute()
    destination = UnicodeAttribute()
    endpoint_id = UnicodeAttribute(null=True)
    url = UnicodeAttribute()
    status = UnicodeAttribute()
    attempt_count = NumberAttribute(default=0)
    scheduled_attempt = NumberAttribute(default=0)
    next_attempt_at = NumberAttribute(null=True)
    window_started_at = NumberAttribute()
    lease_until = NumberAttribute(null=True)
    lease_token = UnicodeAttribute(null=True)
    attempts = UnicodeAttribute(default="[]")
    created = NumberAttribute()
    expires_at = NumberAttribute(attr_name=resources.TTL_ATTRIBUTE, null=True)


class WebhookEndpointItem(_DocItem):
    """An account-wide endpoint; its secrets stand apart so the document never carries them."""

    secret = UnicodeAttribute()
    previous_secret = UnicodeAttribute(null=True)
    previous_secret_expires_at = NumberAttribute(null=True)


class WebhookSecretItem(_Item):
    """The workspace's secret for deliveries to agents' and calls' ``webhook_url``."""

    secret = UnicodeAttribute()
    previous_secret = UnicodeAttribute(null=True)
    previous_secret_expires_at = NumberAttribute(null=True)
    created = NumberAttribute()


class WordItem(_Item):
    """One normalized word of one call's transcript: the transcript search index.

    The SK is the call id (time-sortable), so a word's calls come newest first and a creation-time
    range is a key range; the attributes are what the search filters on and returns.
    """

    call_id = UnicodeAttribute()
    agent_id = UnicodeAttribute(null=True)
    number_id = UnicodeAttribute(null=True)
    created = NumberAttribute()


ALL_ITEMS: tuple[type[Model], ...] = (
    WorkspaceItem, ApiKeyItem, AgentItem, NumberItem, E164Item, RuleItem, CallItem, SegmentItem, IdempotencyItem,
    CallSidItem, PacerItem,
    EventItem, EventKeyItem, DeliveryItem, WebhookEndpointItem, WebhookSecretItem,
    WordItem,
)
