"""The deployment-wide route of an E.164 number to the workspace and number record that own it.

The inbound voice webhook knows only the dialed number (``To``); this one item (written in the same
transaction as the number record, :func:`callingbox.core.store.numbers.insert_number`) leads from
it to the number without knowing the workspace. One owner per number per deployment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from pynamodb.exceptions import DeleteError, DoesNotExist

from .conditions import is_condition_failure
from .items import E164Item

__all__ = ["NumberRoute", "find_route", "delete_route"]

_SK = "e164"


def _pk(e164: str) -> str:
    return f"e164#{e164}"


@dataclass(frozen=True)
class NumberRoute:
    """Who owns an E.164 number."""

    e164: str
    workspace_id: str
    number_id: str


def find_route(e164: str) -> Optional[NumberRoute]:
    """The owner of ``e164``, or None when no workspace holds it."""
    try:
        item = E164Item.get(_pk(e164), _SK, consistent_read=True)
    except DoesNotExist:
        return None
    return NumberRoute(e164, item.workspace_id, item.number_id)


def delete_route(e164: str, *, number_id: Optional[str] = None) -> bool:
    """Forget the route of ``e164`` (a released number); with ``number_id``, only if it still leads there.

    Returns False when there was no such route (already gone, or owned by another record).
    """
    condition = E164Item.pk.exists()
    if number_id is not None:
        condition &= E164Item.number_id == number_id
    try:
        E164Item(_pk(e164), _SK).delete(condition=condition)
    except DeleteError as error:
        if is_condition_failure(error):
            return False
        raise
    return True
