"""Phone numbers, their E.164 ownership records and their filter rules.

Releasing a number is three steps, so that no agent can gain it while the carrier lets it go::

    begin_release   status absent|active -> releasing   (only if no inbound agent holds it)
                    ... the caller checks that no non-archived agent lists it, then releases it
                    at the carrier; every attach conditions on status absent|active, so an
                    attach either committed before this step (and the check sees it) or fails
    finish_release  status releasing -> released, doc status "released", E.164 slot freed
    abort_release   status releasing -> active           (attached, or the carrier failed)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError

from ..errors import Conflict, NotFound
from ..pagination import Page, decode_cursor, encode_cursor
from .binding import transaction
from .conditions import VersionConflict, cancellation_codes, is_condition_failure, is_transaction_conflict
from .items import AgentItem, E164Item, NumberItem, RuleItem, ws_key

__all__ = [
    "NumberRecord",
    "insert_number",
    "get_number",
    "find_number",
    "list_numbers",
    "update_number",
    "is_registered",
    "number_usable",
    "get_usable_number",
    "begin_release",
    "abort_release",
    "finish_release",
    "agents_using",
    "refuse_attached",
    "RuleRecord",
    "insert_rule",
    "get_rule",
    "get_caller_rule",
    "list_rules",
    "update_rule",
]

_PREFIX = "number#"
# How often a release's final write is re-read and retried when concurrent edits keep winning.
MAX_ATTEMPTS = 8


@dataclass
class NumberRecord:
    """A stored number; ``doc`` already carries the derived ``inbound_agent_id``.

    ``state`` is the lifecycle slot (``active``, ``releasing``, ``released``); the public
    ``doc["status"]`` only changes when a release finishes.
    """

    doc: dict[str, Any]
    version: int
    state: str = "active"


def _record(item: NumberItem) -> NumberRecord:
    doc = json.loads(item.doc)
    doc["inbound_agent_id"] = item.inbound_agent_id
    return NumberRecord(doc, int(item.version), item.status or "active")


def number_usable() -> Any:
    """The condition every attach puts on a number item: it is neither released nor being released."""
    return NumberItem.status.does_not_exist() | (NumberItem.status == "active")


def _stored_doc(doc: dict[str, Any]) -> str:
    # inbound_agent_id lives only in its own attribute (the atomic slot), never in the document.
    return json.dumps({key: value for key, value in doc.items() if key != "inbound_agent_id"})


def insert_number(workspace_id: str, doc: dict[str, Any]) -> NumberRecord:
    """Store a new number; a number owned anywhere in this deployment already is a 409."""
    try:
        with transaction() as write:
            write.save(NumberItem(ws_key(workspace_id), _PREFIX + doc["id"], doc=_stored_doc(doc), version=1,
                                  status="active"),
                       condition=NumberItem.pk.does_not_exist())
            write.save(E164Item(f"e164#{doc['number']}", "e164", workspace_id=workspace_id, number_id=doc["id"]),
                       condition=E164Item.pk.does_not_exist())
    except TransactWriteError as error:
        if "ConditionalCheckFailed" in cancellation_codes(error):
            raise Conflict(f"{doc['number']} is already registered", code="number_already_exists",
                           param="number", permanent=True) from error
        raise
    return NumberRecord({**doc, "inbound_agent_id": None}, 1)


def get_number(workspace_id: str, number_id: str) -> NumberRecord:
    """The number, or :class:`NotFound`."""
    try:
        item = NumberItem.get(ws_key(workspace_id), _PREFIX + number_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"no phone number {number_id!r}", param="number_id") from None
    return _record(item)


def get_usable_number(workspace_id: str, number_id: str) -> NumberRecord:
    """The number if agents may take it: :class:`NotFound`, or a 409 ``number_released`` when it is
    released (permanent) or being released (retry)."""
    record = get_number(workspace_id, number_id)
    if record.state != "active":
        released = record.state == "released"
        raise Conflict(f"number {number_id!r} is {'released' if released else 'being released'}",
                       code="number_released", param="number_id", permanent=released)
    return record


def is_registered(e164: str) -> bool:
    """Whether any workspace of this deployment holds ``e164`` (released numbers are free again)."""
    try:
        E164Item.get(f"e164#{e164}", "e164", consistent_read=True)
    except DoesNotExist:
        return False
    return True


def find_number(workspace_id: str, e164: str) -> Optional[NumberRecord]:
    """The workspace's record of an E.164 number, if it owns one."""
    try:
        owner = E164Item.get(f"e164#{e164}", "e164")
    except DoesNotExist:
        return None
    if owner.workspace_id != workspace_id:
        return None
    return get_number(workspace_id, owner.number_id)


def _order_key(doc: dict[str, Any]) -> str:
    # Within one second, generated ids sort by time; fixed ids (sample numbers) count as older.
    generated = "1" if len(doc["id"]) == len("pn_") + 26 else "0"
    return f"{_PREFIX}{int(doc['created']):012d}#{generated}#{doc['id']}"


def list_numbers(workspace_id: str, *, limit: int, cursor: Optional[str]) -> Page:
    """Numbers newest first, released ones left out (``GET /v1/numbers/{id}`` still shows them).

    Ordered by ``created`` rather than by id, because adopted sample numbers carry fixed ids
    (``pn_abc123``) that do not sort by time. A workspace holds few numbers, so they are read whole.
    """
    after = decode_cursor(cursor, prefix=_PREFIX)
    items = NumberItem.query(ws_key(workspace_id), range_key_condition=NumberItem.sk.startswith(_PREFIX))
    records = [doc for doc in (_record(item).doc for item in items) if doc.get("status") != "released"]
    ordered = sorted(records, key=_order_key, reverse=True)
    if after is not None:
        ordered = [doc for doc in ordered if _order_key(doc) < after]
    kept = ordered[:limit]
    has_more = len(ordered) > limit
    return Page([json.dumps(doc) for doc in kept], has_more, encode_cursor(_order_key(kept[-1])) if has_more else None)


def update_number(workspace_id: str, doc: dict[str, Any], *, expected_version: int) -> NumberRecord:
    """Save an edited number if nobody wrote it since it was read."""
    item = NumberItem(ws_key(workspace_id), _PREFIX + doc["id"])
    try:
        item.update(
            actions=[NumberItem.doc.set(_stored_doc(doc)), NumberItem.version.set(expected_version + 1)],
            condition=NumberItem.version == expected_version,
        )
    except UpdateError as error:
        if is_condition_failure(error):
            raise VersionConflict() from error
        raise
    return NumberRecord(doc, expected_version + 1)


def begin_release(workspace_id: str, number_id: str) -> NumberRecord:
    """Mark the number ``releasing`` (see the module docstring) and return it.

    A number already released comes back as it is (``state == "released"``); one answered by an
    inbound agent is a 409 ``number_attached``. Raises :class:`VersionConflict` when the number
    changed between the write and the explanation read: try again.
    """
    item = NumberItem(ws_key(workspace_id), _PREFIX + number_id)
    try:
        item.update(
            actions=[NumberItem.status.set("releasing")],
            condition=NumberItem.pk.exists() & NumberItem.inbound_agent_id.does_not_exist()
            & (number_usable() | (NumberItem.status == "releasing")),
        )
    except UpdateError as error:
        if not is_condition_failure(error):
            raise
        record = get_number(workspace_id, number_id)
        if record.state == "released":
            return record
        if record.doc["inbound_agent_id"]:
            raise _attached(number_id, [record.doc["inbound_agent_id"]]) from error
        raise VersionConflict() from error
    return get_number(workspace_id, number_id)


def _attached(number_id: str, agent_ids: list[str]) -> Conflict:
    return Conflict(f"number {number_id!r} is attached to {', '.join(sorted(agent_ids))}; detach it (or archive "
                    "the agent) before releasing it", code="number_attached", param="number_id", permanent=True)


def agents_using(workspace_id: str, number_id: str) -> list[str]:
    """Ids of the non-archived agents (inbound or outbound) whose ``number_ids`` hold the number.

    Read consistently: it runs after :func:`begin_release`, and must see every attach that
    committed before it.
    """
    items = AgentItem.query(ws_key(workspace_id), range_key_condition=AgentItem.sk.startswith("agent#"),
                            filter_condition=AgentItem.archived == False,  # noqa: E712 (a DynamoDB condition)
                            consistent_read=True)
    return [item.sk.removeprefix("agent#") for item in items if number_id in json.loads(item.doc)["number_ids"]]


def refuse_attached(number_id: str, agent_ids: list[str]) -> None:
    """Raise the 409 ``number_attached`` when ``agent_ids`` is not empty."""
    if agent_ids:
        raise _attached(number_id, agent_ids)


def abort_release(workspace_id: str, number_id: str) -> None:
    """Put a ``releasing`` number back to ``active`` (nothing happens in any other state)."""
    item = NumberItem(ws_key(workspace_id), _PREFIX + number_id)
    try:
        item.update(actions=[NumberItem.status.set("active")], condition=NumberItem.status == "releasing")
    except UpdateError as error:
        if not is_condition_failure(error):
            raise


def finish_release(workspace_id: str, number_id: str) -> NumberRecord:
    """``releasing`` -> ``released``: the document says so and the E.164 number is free to own again.

    The record stays, so historical calls still resolve their number.
    """
    partition = ws_key(workspace_id)
    for _ in range(MAX_ATTEMPTS):
        record = get_number(workspace_id, number_id)
        if record.state == "released":
            return record
        doc = {**record.doc, "status": "released"}
        try:
            with transaction() as write:
                write.update(
                    NumberItem(partition, _PREFIX + number_id),
                    actions=[NumberItem.doc.set(_stored_doc(doc)), NumberItem.version.set(record.version + 1),
                             NumberItem.status.set("released")],
                    # The version alone: once the carrier let the number go, "released" is the truth
                    # even if a concurrent release that failed has put the slot back to active.
                    condition=NumberItem.version == record.version,
                )
                write.delete(E164Item(f"e164#{doc['number']}", "e164"),
                             condition=E164Item.pk.does_not_exist() | (E164Item.number_id == number_id))
        except TransactWriteError as error:
            if is_transaction_conflict(error) or "ConditionalCheckFailed" in cancellation_codes(error):
                continue
            raise
        return NumberRecord(doc, record.version + 1, "released")
    raise Conflict("the number is being edited concurrently; retry", code="concurrent_update", permanent=False)


@dataclass
class RuleRecord:
    """A stored filter rule."""

    doc: dict[str, Any]
    version: int


def _rule_key(number_id: str, exact_number: str) -> str:
    return f"rule#{number_id}#{exact_number}"


def insert_rule(workspace_id: str, doc: dict[str, Any]) -> RuleRecord:
    """Store a rule; a caller already covered by a live (active or paused) rule is a 409."""
    item = RuleItem(ws_key(workspace_id), _rule_key(doc["number_id"], doc["exact_number"]),
                    doc=json.dumps(doc), version=1, rule_id=doc["id"], status=doc["status"])
    try:
        item.save(condition=RuleItem.pk.does_not_exist() | (RuleItem.status == "deleted"))
    except PutError as error:
        if is_condition_failure(error):
            raise Conflict(f"a rule for {doc['exact_number']} already exists on this number; update it instead",
                           code="rule_already_exists", param="exact_number", permanent=True) from error
        raise
    return RuleRecord(doc, 1)


def _rule_items(workspace_id: str, number_id: str) -> list[RuleItem]:
    return list(RuleItem.query(ws_key(workspace_id), range_key_condition=RuleItem.sk.startswith(f"rule#{number_id}#")))


def get_rule(workspace_id: str, number_id: str, rule_id: str) -> RuleRecord:
    """The rule, or :class:`NotFound`."""
    for item in _rule_items(workspace_id, number_id):
        if item.rule_id == rule_id:
            return RuleRecord(json.loads(item.doc), int(item.version))
    raise NotFound(f"no rule {rule_id!r} on number {number_id!r}", param="rule_id")


def get_caller_rule(workspace_id: str, number_id: str, exact_number: str) -> Optional[RuleRecord]:
    """The rule slot of one caller on a number (any status), if any: one read, no query."""
    try:
        item = RuleItem.get(ws_key(workspace_id), _rule_key(number_id, exact_number), consistent_read=True)
    except DoesNotExist:
        return None
    return RuleRecord(json.loads(item.doc), int(item.version))


def list_rules(workspace_id: str, number_id: str, *, status: Optional[str], limit: int,
               cursor: Optional[str]) -> Page:
    """A number's rules, newest first; deleted ones only when asked for by ``status``."""
    after = decode_cursor(cursor, prefix="rule_")
    docs = [json.loads(item.doc) for item in _rule_items(workspace_id, number_id)]
    docs = [doc for doc in docs if (doc["status"] != "deleted" if status is None else doc["status"] == status)]
    ordered = sorted(docs, key=lambda doc: doc["id"], reverse=True)
    if after is not None:
        ordered = [doc for doc in ordered if doc["id"] < after]
    kept = ordered[:limit]
    has_more = len(ordered) > limit
    return Page([json.dumps(doc) for doc in kept], has_more, encode_cursor(kept[-1]["id"]) if has_more else None)


def update_rule(workspace_id: str, doc: dict[str, Any], *, expected_version: int) -> RuleRecord:
    """Save an edited rule if nobody wrote it since it was read."""
    item = RuleItem(ws_key(workspace_id), _rule_key(doc["number_id"], doc["exact_number"]))
    try:
        item.update(
            actions=[RuleItem.doc.set(json.dumps(doc)), RuleItem.status.set(doc["status"]),
                     RuleItem.version.set(expected_version + 1)],
            condition=(RuleItem.version == expected_version) & (RuleItem.rule_id == doc["id"]),
        )
    except UpdateError as error:
        if is_condition_failure(error):
            raise VersionConflict() from error
        raise
    return RuleRecord(doc, expected_version + 1)
