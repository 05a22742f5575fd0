"""Opaque cursors and list pages.

A cursor is the sort key of the last item a page returned, base64url-encoded. Because sort keys
are time-sortable ids, the next page is simply "older than the cursor", which also keeps
cursors valid while new items are written.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Optional

from .errors import InvalidRequest

__all__ = ["Page", "encode_cursor", "decode_cursor", "parse_limit", "DEFAULT_LIMIT", "MAX_LIMIT"]

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True)
class Page:
    """One page of stored JSON documents, newest first."""

    docs: list[str]
    has_more: bool
    next_cursor: Optional[str]

    def to_json(self) -> str:
        """The list object, built by joining stored documents without re-parsing them."""
        cursor = json.dumps(self.next_cursor)
        more = "true" if self.has_more else "false"
        return f'{{"object":"list","data":[{",".join(self.docs)}],"has_more":{more},"next_cursor":{cursor}}}'


def encode_cursor(sort_key: str) -> str:
    """The cursor that resumes after ``sort_key``."""
    return base64.urlsafe_b64encode(sort_key.encode()).decode().rstrip("=")


def decode_cursor(cursor: Optional[str], *, prefix: str) -> Optional[str]:
    """The sort key inside ``cursor``; a cursor for another kind of list is a 400."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        sort_key = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidRequest("cursor is not one this API returned", param="cursor", code="invalid_cursor") from None
    if not sort_key.startswith(prefix):
        raise InvalidRequest("cursor belongs to a different list", param="cursor", code="invalid_cursor")
    return sort_key


def parse_limit(raw: Optional[str]) -> int:
    """``limit`` from the query string: 1–100, default 20."""
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest("limit must be an integer from 1 to 100", param="limit") from None
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidRequest("limit must be an integer from 1 to 100", param="limit")
    return value
