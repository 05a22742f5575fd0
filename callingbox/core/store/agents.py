"""Agents and the numbers they hold, written race-safely.

An agent is saved with its version as condition. In the same transaction every inbound number it
gains is claimed with ``inbound_agent_id`` absent-or-ours, so two inbound agents can never both
answer one number: the second transaction is cancelled and becomes a 409. Every number an agent
gains (inbound or outbound) must also not be released or being released
(:func:`~callingbox.core.store.numbers.number_usable`), which keeps releases race-safe.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from ..errors import Conflict, NotFound
from ..pagination import Page, decode_cursor, encode_cursor
from .binding import transaction
from .conditions import VersionConflict, cancellation_codes, is_transaction_conflict
from .items import AgentItem, NumberItem, ws_key
from .numbers import get_usable_number, number_usable

__all__ = ["AgentRecord", "NumberChanges", "get_agent", "list_agents", "write_agent"]

_PREFIX = "agent#"
# Where each role's item lands in the transaction PynamoDB submits (``TransactWrite`` sends
# condition checks, deletes, puts, updates in that order); a stable sort of the plan by this
# lines it up with the cancellation reasons.
_SUBMITTED = {"require": 0, "agent": 2, "claim": 3, "release": 3}


@dataclass
class AgentRecord:
    """A stored agent: its public document and the version a write must match."""

    doc: dict[str, Any]
    version: int


@dataclass
class NumberChanges:
    """What a write does to number items besides saving the agent."""

    claim: list[str] = field(default_factory=list)  # become this inbound agent's number
    release: list[str] = field(default_factory=list)  # stop being answered by this agent
    require: list[str] = field(default_factory=list)  # must exist in the workspace (caller ids)


def _sort_key(agent_id: str) -> str:
    return f"{_PREFIX}{agent_id}"


def get_agent(workspace_id: str, agent_id: str) -> AgentRecord:
    """The agent, or :class:`NotFound` (also for other workspaces' agents)."""
    try:
        item = AgentItem.get(ws_key(workspace_id), _sort_key(agent_id), consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"no agent {agent_id!r}", param="agent_id") from None
    return AgentRecord(json.loads(item.doc), int(item.version))


def list_agents(workspace_id: str, *, type: Optional[str], archived: Optional[bool], limit: int,
                cursor: Optional[str]) -> Page:
    """Agents newest first, optionally only one ``type`` or archived state."""
    after = decode_cursor(cursor, prefix=_PREFIX)
    condition = AgentItem.sk.between(_PREFIX, after) if after else AgentItem.sk.startswith(_PREFIX)
    filters = None
    if type is not None:
        filters = AgentItem.type == type
    if archived is not None:
        clause = AgentItem.archived == archived
        filters = clause if filters is None else filters & clause
    items = AgentItem.query(
        ws_key(workspace_id), range_key_condition=condition, filter_condition=filters,
        scan_index_forward=False, limit=limit + 2, page_size=max(limit + 2, 25),
    )
    return _page([item for item in items if item.sk != after], limit)


def _page(items: list[Any], limit: int) -> Page:
    kept = items[:limit]
    has_more = len(items) > limit
    cursor = encode_cursor(kept[-1].sk) if has_more and kept else None
    return Page([item.doc for item in kept], has_more, cursor)


def write_agent(workspace_id: str, doc: dict[str, Any], *, expected_version: Optional[int],
                numbers: NumberChanges) -> AgentRecord:
    """Save ``doc`` (new when ``expected_version`` is None) and apply ``numbers`` atomically.

    Raises :class:`VersionConflict` when the agent changed since it was read, :class:`Conflict`
    when a claimed number is answered by another inbound agent, :class:`NotFound` for a number
    outside the workspace.
    """
    partition = ws_key(workspace_id)
    version = 1 if expected_version is None else expected_version + 1
    item = AgentItem(partition, _sort_key(doc["id"]), doc=json.dumps(doc), version=version,
                     type=doc["type"], archived=bool(doc["archived"]))
    # Cancellation reasons come back in the order the items were submitted, which is PynamoDB's,
    # not ours: condition checks, then deletes, puts and updates (see _SUBMITTED).
    plan: list[tuple[str, str]] = []
    try:
        with transaction() as write:
            if expected_version is None:
                write.save(item, condition=AgentItem.pk.does_not_exist())
            else:
                write.save(item, condition=AgentItem.version == expected_version)
            plan.append(("agent", doc["id"]))
            for number_id in numbers.claim:
                number = NumberItem(partition, f"number#{number_id}")
                write.update(
                    number,
                    actions=[NumberItem.inbound_agent_id.set(doc["id"])],
                    condition=NumberItem.pk.exists() & number_usable()
                    & (NumberItem.inbound_agent_id.does_not_exist() | (NumberItem.inbound_agent_id == doc["id"])),
                )
                plan.append(("claim", number_id))
            for number_id in numbers.release:
                number = NumberItem(partition, f"number#{number_id}")
                write.update(
                    number,
                    actions=[NumberItem.inbound_agent_id.remove()],
                    condition=NumberItem.pk.exists() & (NumberItem.inbound_agent_id == doc["id"]),
                )
                plan.append(("release", number_id))
            for number_id in numbers.require:
                write.condition_check(NumberItem, partition, f"number#{number_id}",
                                      condition=NumberItem.pk.exists() & number_usable())
                plan.append(("require", number_id))
    except TransactWriteError as error:
        _raise_for(error, sorted(plan, key=lambda entry: _SUBMITTED[entry[0]]), workspace_id)
    return AgentRecord(doc, version)


def _raise_for(error: TransactWriteError, plan: list[tuple[str, str]], workspace_id: str) -> None:
    if is_transaction_conflict(error):
        raise VersionConflict() from error
    codes = cancellation_codes(error)
    for (role, ident), code in zip(plan, codes):
        if code != "ConditionalCheckFailed":
            continue
        if role == "agent":
            raise VersionConflict() from error
        if role == "claim":
            get_usable_number(workspace_id, ident)  # released or being released: says so (409)
            _raise_claim_failure(error, ident)
        if role == "release":
            # Someone detached it first; our view is stale: read again.
            raise VersionConflict() from error
        get_usable_number(workspace_id, ident)  # released or being released: says so (409)
        raise NotFound(f"no phone number {ident!r}", param="number_id") from error
    raise error


def _raise_claim_failure(error: TransactWriteError, number_id: str) -> None:
    raise Conflict(
        f"number {number_id!r} is already answered by another inbound agent; detach it from that "
        "agent first",
        code="number_already_attached", param="number_id", permanent=True,
    ) from error
