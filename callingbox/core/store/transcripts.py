"""Transcript segments, stored as the call goes: one item per final segment.

The voice gateway appends each segment once it is final (the caller's when the recogniser closes
the utterance, the agent's as it is spoken) under a per-call sequence number ``seq``; an agent
segment cut off by a barge-in is then truncated to what the caller actually heard and marked
``interrupted``. Because segments are written during the call, a call whose gateway is lost (see
:mod:`callingbox.core.sweeper`) keeps everything said up to that point.

Key: ``PK ws#<ws>``, ``SK seg#<call id>#<seq:06d>``, so one query returns a call's segments in
order. The segment's JSON shape is the public ``TranscriptSegment``
(``party``, ``text``, ``start_ms``, ``end_ms``, ``interrupted``).
"""

from __future__ import annotations

from typing import Any, Optional

from pynamodb.exceptions import PutError, UpdateError

from ..errors import NotFound
from .conditions import is_condition_failure
from .items import SegmentItem, ws_key

__all__ = ["PARTIES", "MAX_SEQ", "append_segment", "update_segment", "list_segments"]

PARTIES = ("agent", "caller")
# seq is written with six digits so that the SK sorts numerically; a call has far fewer segments.
MAX_SEQ = 999_999


def _prefix(call_id: str) -> str:
    # The trailing '#' keeps call_ab's segments apart from call_abc's.
    return f"seg#{call_id}#"


def _sk(call_id: str, seq: int) -> str:
    return f"{_prefix(call_id)}{seq:06d}"


def _check(seq: int, party: Optional[str], start_ms: Optional[int], end_ms: Optional[int]) -> None:
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
        raise ValueError(f"seq must be an integer from 0 to {MAX_SEQ}, not {seq!r}")
    if party is not None and party not in PARTIES:
        raise ValueError(f"party must be one of {', '.join(PARTIES)}, not {party!r}")
    for name, value in (("start_ms", start_ms), ("end_ms", end_ms)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"{name} must be a non-negative integer (milliseconds from the call's start)")
    if start_ms is not None and end_ms is not None and end_ms < start_ms:
        raise ValueError(f"end_ms ({end_ms}) is before start_ms ({start_ms})")


def _segment(item: SegmentItem) -> dict[str, Any]:
    return {
        "party": item.party,
        "text": item.text,
        "start_ms": int(item.start_ms),
        "end_ms": int(item.end_ms),
        "interrupted": bool(item.interrupted),
    }


def append_segment(workspace_id: str, call_id: str, seq: int, party: str, text: str, start_ms: int, end_ms: int,
                   interrupted: bool = False) -> bool:
    """Store segment ``seq`` of the call; True if this call wrote it.

    Idempotent: a retried append of a ``seq`` already stored changes nothing and returns False —
    the first write wins, so a late retry cannot undo a truncation made since.

    Raises:
        ValueError: ``seq`` outside 0..999999, an unknown ``party``, or negative / reversed times.
    """
    _check(seq, party, start_ms, end_ms)
    item = SegmentItem(ws_key(workspace_id), _sk(call_id, seq), call_id=call_id, seq=seq, party=party, text=text,
                       start_ms=start_ms, end_ms=end_ms, interrupted=interrupted)
    try:
        item.save(condition=SegmentItem.sk.does_not_exist())
    except PutError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def update_segment(workspace_id: str, call_id: str, seq: int, *, text: Optional[str] = None,
                   end_ms: Optional[int] = None, interrupted: Optional[bool] = None) -> dict[str, Any]:
    """Change a stored segment (truncation on barge-in: the heard ``text``, the cut ``end_ms``,
    ``interrupted=True``) and return it as stored. Fields left ``None`` keep their value.

    Raises:
        NotFound: no segment ``seq`` for this call (append it first).
        ValueError: a bad ``seq`` or ``end_ms``, or ``end_ms`` before the segment's start.
    """
    _check(seq, None, None, end_ms)
    actions = []
    condition = SegmentItem.sk.exists()
    if text is not None:
        actions.append(SegmentItem.text.set(text))
    if end_ms is not None:
        actions.append(SegmentItem.end_ms.set(end_ms))
        condition &= SegmentItem.start_ms <= end_ms
    if interrupted is not None:
        actions.append(SegmentItem.interrupted.set(bool(interrupted)))
    item = SegmentItem(ws_key(workspace_id), _sk(call_id, seq))
    if not actions:
        try:
            return _segment(SegmentItem.get(item.pk, item.sk, consistent_read=True))
        except SegmentItem.DoesNotExist:
            raise NotFound(f"call {call_id} has no transcript segment {seq}", param="seq") from None
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as error:
        if not is_condition_failure(error):
            raise
        try:
            stored = SegmentItem.get(item.pk, item.sk, consistent_read=True)
        except SegmentItem.DoesNotExist:
            raise NotFound(f"call {call_id} has no transcript segment {seq}", param="seq") from None
        raise ValueError(f"end_ms ({end_ms}) is before the segment's start_ms ({int(stored.start_ms)})") from None
    return _segment(item)


def list_segments(workspace_id: str, call_id: str) -> list[dict[str, Any]]:
    """The call's segments in ``seq`` order (empty when none were written)."""
    items = SegmentItem.query(ws_key(workspace_id), range_key_condition=SegmentItem.sk.startswith(_prefix(call_id)),
                              consistent_read=True)
    return [_segment(item) for item in items]
