"""The transcript search index: one item per (workspace, word, call), keyed for newest-first ranges.

Key: ``PK word#<ws>#<word>``, ``SK <call id>``. Because call ids are time-sortable, a word's
calls read newest first, a creation-time filter is a key range and a cursor is "older than this
id". ``agent_id``, ``number_id`` and ``created`` ride along for filters and results. The rules
(what a word is, how a query runs) are in :mod:`callingbox.core.transcript_search`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Optional

from .items import WordItem

__all__ = ["WordHit", "word_partition", "put_call_words", "probe_word", "query_word", "existing"]

BATCH_GET_KEYS = 100  # DynamoDB's BatchGetItem limit per request (PynamoDB splits larger batches)


@dataclass(frozen=True)
class WordHit:
    """A call holding the word, with the attributes the search returns."""

    call_id: str
    agent_id: Optional[str]
    number_id: Optional[str]
    created: int


def word_partition(workspace_id: str, word: str) -> str:
    """The partition holding ``word``'s calls in the workspace."""
    return f"word#{workspace_id}#{word}"


def put_call_words(workspace_id: str, call_id: str, words: Iterable[str], *, agent_id: Optional[str],
                   number_id: Optional[str], created: int) -> int:
    """Index the call under each of ``words`` (batched writes); idempotent. Returns the count."""
    count = 0
    with WordItem.batch_write() as batch:
        for word in words:
            batch.save(WordItem(word_partition(workspace_id, word), call_id, call_id=call_id, agent_id=agent_id,
                                number_id=number_id, created=created))
            count += 1
    return count


def probe_word(workspace_id: str, word: str, *, lower: str, upper: str, limit: int) -> list[str]:
    """Up to ``limit`` call ids holding ``word`` in ``[lower, upper]``, newest first (keys only)."""
    items = WordItem.query(word_partition(workspace_id, word), range_key_condition=WordItem.sk.between(lower, upper),
                           scan_index_forward=False, limit=limit, page_size=limit,
                           attributes_to_get=[WordItem.sk.attr_name])
    return [item.sk for item in items]


def query_word(workspace_id: str, word: str, *, lower: str, upper: str, agent_id: Optional[str] = None,
               number_id: Optional[str] = None, page_size: int = 100) -> Iterator[WordHit]:
    """Every call holding ``word`` in ``[lower, upper]`` and matching the filters, newest first (lazy)."""
    condition = None
    if agent_id is not None:
        condition = WordItem.agent_id == agent_id
    if number_id is not None:
        clause = WordItem.number_id == number_id
        condition = clause if condition is None else condition & clause
    items = WordItem.query(word_partition(workspace_id, word), range_key_condition=WordItem.sk.between(lower, upper),
                           filter_condition=condition, scan_index_forward=False, page_size=page_size)
    for item in items:
        yield WordHit(item.sk, item.agent_id, item.number_id, int(item.created))


def existing(workspace_id: str, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which ``(word, call id)`` pairs are indexed (batched point reads)."""
    keys = {(word_partition(workspace_id, word), call_id): (word, call_id) for word, call_id in pairs}
    if not keys:
        return set()
    found = WordItem.batch_get(list(keys), attributes_to_get=[WordItem.pk.attr_name, WordItem.sk.attr_name])
    return {keys[(item.pk, item.sk)] for item in found}
