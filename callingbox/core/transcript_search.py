"""Transcript search: ``GET /v1/transcripts/search?q=…`` finds the calls whose transcript contains
every word of ``q``, newest first, with the segments that matched.

How it works. When a call has been processed (the post-call extraction job, :mod:`.extraction.worker`),
each distinct normalized word of its transcript is written once to DynamoDB as an item keyed
``(workspace, word) -> call id`` (:mod:`.store.search_index`). Call ids sort by creation time, so
each word's calls read newest first and ``created_after`` / ``created_before`` / the cursor are key
ranges. A query first reads a short page of every query word; the word whose page reaches furthest
back in time (or that has fewest calls in all) is the rarest, and drives: its calls are read in
order (filtered by ``agent_id`` / ``number_id`` on the way), and each is kept only if every other
word is indexed for it too, which the probe pages mostly answer already and batched point reads
answer otherwise. The matching segments are then read from the kept calls' transcripts.

Limits (for the README):

- **Exact words only.** Text is normalized the same way on both sides (lower case, accents and
  other marks folded, apostrophes dropped, every other punctuation mark a separator: "Café",
  "cafe" and "CAFÉ" match; "don't" is "dont"; "follow-up" is the two words "follow" and "up"). There
  is no stemming ("book" does not find "booked"), no prefix or fuzzy matching, no phrases (word
  order and adjacency are ignored) and no OR or NOT.
- **At most 10 distinct words** per query (else 400, ``param: q``), each at most 64 characters;
  longer words are not indexed. An empty query (nothing left after normalization) is a 400.
- **Scripts without spaces** (Chinese, Japanese, Thai) are indexed per run of letters, so a
  query matches only whole runs.
- **Eventually consistent:** a call becomes searchable once its post-call processing has run
  (seconds after it ends); calls in progress, and calls the voice gateway never handled, are not
  found. Re-extraction does not change what is indexed.
- **Bounded work per page:** one page examines at most 2,000 calls of the rarest word; when a
  query's words rarely occur together a page can hold fewer than ``limit`` results (even none)
  with ``has_more: true``. Keep following ``next_cursor``.
- ``number_id`` is the workspace's number the call used (the caller id of an outbound call, the
  dialled number of an inbound one) at the time the call was indexed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from .calls import parse_epoch
from .errors import InvalidRequest
from .ids import id_ceiling, id_floor
from .pagination import decode_cursor, encode_cursor, parse_limit
from .scope import Scope
from .store import search_index
from .store.search_index import WordHit

__all__ = [
    "words_of",
    "query_words",
    "index_call",
    "search_transcripts",
    "MAX_QUERY_WORDS",
    "MAX_WORD_CHARS",
    "MAX_EXAMINED_PER_PAGE",
]

MAX_QUERY_WORDS = 10
MAX_WORD_CHARS = 64
MAX_WORDS_PER_CALL = 5_000  # distinct words indexed per call; a very long call's rarest extras are dropped
PROBE_SIZE = 50  # call ids read per query word to find the rarest one
VERIFY_BATCH = 50  # driver candidates checked against the other words at once
MAX_EXAMINED_PER_PAGE = 2_000
_CALL_PREFIX = "call_"
_CALL_UPPER = "call_~"  # sorts after every call id
_APOSTROPHES = re.compile(r"['’ʼ`´]")
_WORD = re.compile(r"[^\W_]+")


def words_of(text: str) -> list[str]:
    """The normalized words of ``text``, in order (see the module docstring for the rules)."""
    decomposed = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return _WORD.findall(_APOSTROPHES.sub("", folded))


def query_words(q: Optional[str]) -> list[str]:
    """The distinct words of a query, in order.

    Raises:
        InvalidRequest: (``param: q``) no words, more than 10, or one longer than 64 characters.
    """
    words = list(dict.fromkeys(words_of(q or "")))
    if not words:
        raise InvalidRequest("q must contain at least one word", param="q", code="invalid_query")
    if len(words) > MAX_QUERY_WORDS:
        raise InvalidRequest(f"q may contain at most {MAX_QUERY_WORDS} distinct words, not {len(words)}",
                             param="q", code="invalid_query")
    long = next((word for word in words if len(word) > MAX_WORD_CHARS), None)
    if long is not None:
        raise InvalidRequest(f"words longer than {MAX_WORD_CHARS} characters are not indexed ({long[:20]}…)",
                             param="q", code="invalid_query")
    return words


def _number_id(workspace_id: str, call_doc: Mapping[str, Any]) -> Optional[str]:
    """The workspace's number the call used: caller id when outbound, dialled number when inbound."""
    if call_doc.get("number_id"):
        return str(call_doc["number_id"])
    ours = call_doc.get("to_number") if call_doc.get("direction") == "inbound" else call_doc.get("from_number")
    if not ours:
        return None
    from .store.numbers import find_number

    record = find_number(workspace_id, str(ours))
    return str(record.doc["id"]) if record is not None else None


def index_call(workspace_id: str, call_doc: Mapping[str, Any], segments: Sequence[Mapping[str, Any]]) -> int:
    """Make the call findable by every word of its transcript; idempotent. Returns the words written."""
    words: dict[str, None] = {}
    for segment in segments:
        for word in words_of(str(segment.get("text") or "")):
            if len(word) <= MAX_WORD_CHARS:
                words[word] = None
    if not words:
        return 0
    return search_index.put_call_words(workspace_id, str(call_doc["id"]), list(words)[:MAX_WORDS_PER_CALL],
                                       agent_id=call_doc.get("agent_id"), number_id=_number_id(workspace_id, call_doc),
                                       created=int(call_doc.get("created") or 0))


@dataclass(frozen=True)
class _Probe:
    """The first page of one word's calls: which ids, how far back it reached, and whether it is all."""

    ids: frozenset[str]
    floor: str
    complete: bool

    def holds(self, call_id: str) -> Optional[bool]:
        """Whether the word is indexed for ``call_id``; None when the probe did not reach that far."""
        if self.complete or call_id >= self.floor:
            return call_id in self.ids
        return None


@dataclass
class _Scan:
    """One page's walk over the driver word's calls."""

    workspace_id: str
    words: list[str]
    probes: dict[str, _Probe]
    limit: int
    kept: list[WordHit]
    examined: int = 0
    last_examined: Optional[str] = None

    def check(self, batch: list[WordHit], driver: str) -> None:
        """Keep the candidates in ``batch`` that hold every other word (in order)."""
        others = [word for word in self.words if word != driver]
        unknown: list[tuple[str, str]] = []
        verdicts: list[Optional[list[tuple[str, str]]]] = []
        for hit in batch:
            needed: list[tuple[str, str]] = []
            for word in others:
                known = self.probes[word].holds(hit.call_id)
                if known is False:
                    verdicts.append(None)
                    break
                if known is None:
                    needed.append((word, hit.call_id))
            else:
                verdicts.append(needed)
                unknown.extend(needed)
        found = search_index.existing(self.workspace_id, unknown) if unknown else set()
        for hit, needed in zip(batch, verdicts, strict=True):
            if needed is not None and all(pair in found for pair in needed):
                self.kept.append(hit)
        self.examined += len(batch)
        self.last_examined = batch[-1].call_id


def _intersect(workspace_id: str, words: list[str], *, lower: str, upper: str, exclude: Optional[str],
               agent_id: Optional[str], number_id: Optional[str], limit: int
               ) -> tuple[list[WordHit], bool, Optional[str]]:
    """The page's calls holding every word, whether more may follow, and the id to resume after."""
    probes: dict[str, _Probe] = {}
    for word in words:
        raw = search_index.probe_word(workspace_id, word, lower=lower, upper=upper, limit=PROBE_SIZE + 1)
        ids = [call_id for call_id in raw if call_id != exclude]
        if not ids:
            return [], False, None  # a word no call in range has: nothing matches
        probes[word] = _Probe(frozenset(ids), min(ids), complete=len(raw) < PROBE_SIZE + 1)
    complete = [word for word in words if probes[word].complete]
    if complete:
        driver = min(complete, key=lambda word: len(probes[word].ids))
    else:  # the word whose first page reaches furthest back is the sparsest in this range
        driver = min(words, key=lambda word: probes[word].floor)
    scan = _Scan(workspace_id, words, probes, limit, [])
    batch: list[WordHit] = []
    for hit in search_index.query_word(workspace_id, driver, lower=lower, upper=upper, agent_id=agent_id,
                                       number_id=number_id):
        if hit.call_id == exclude:
            continue
        batch.append(hit)
        if len(batch) < VERIFY_BATCH:
            continue
        scan.check(batch, driver)
        batch = []
        if len(scan.kept) > limit:
            return scan.kept[:limit], True, scan.kept[limit - 1].call_id
        if scan.examined >= MAX_EXAMINED_PER_PAGE:
            return scan.kept, True, scan.last_examined
    if batch:
        scan.check(batch, driver)
    if len(scan.kept) > limit:
        return scan.kept[:limit], True, scan.kept[limit - 1].call_id
    return scan.kept, False, None


def _result(workspace_id: str, hit: WordHit, words: set[str]) -> dict[str, Any]:
    from .store.transcripts import list_segments

    matches = [segment for segment in list_segments(workspace_id, hit.call_id)
               if words.intersection(words_of(segment["text"]))]
    return {"object": "transcript_search_result", "call_id": hit.call_id, "agent_id": hit.agent_id,
            "number_id": hit.number_id, "created": hit.created, "matches": matches}


def search_transcripts(scope: Scope, query: Mapping[str, str]) -> dict[str, Any]:
    """``GET /v1/transcripts/search``: the list object of matching calls, newest first.

    Query: ``q`` (required), ``number_id``, ``agent_id``, ``created_after``, ``created_before``
    (unix seconds, inclusive), ``limit`` (1–100, default 20), ``cursor``.

    Raises:
        InvalidRequest: a bad ``q``, time, ``limit`` or ``cursor`` (the ``param`` says which).
    """
    words = query_words(query.get("q"))
    limit = parse_limit(query.get("limit"))
    after = decode_cursor(query.get("cursor"), prefix=_CALL_PREFIX)
    created_after = parse_epoch(query.get("created_after"), "created_after")
    created_before = parse_epoch(query.get("created_before"), "created_before")
    lower = id_floor("call", created_after) if created_after is not None else _CALL_PREFIX
    upper = id_ceiling("call", created_before) if created_before is not None else _CALL_UPPER
    if after is not None and after < upper:
        upper = after
    page: list[WordHit] = []
    has_more, resume = False, None
    if lower <= upper:
        page, has_more, resume = _intersect(scope.workspace_id, words, lower=lower, upper=upper, exclude=after,
                                            agent_id=query.get("agent_id") or None,
                                            number_id=query.get("number_id") or None, limit=limit)
    wanted = set(words)
    return {
        "object": "list",
        "data": [_result(scope.workspace_id, hit, wanted) for hit in page],
        "has_more": has_more,
        "next_cursor": encode_cursor(resume) if has_more and resume else None,
    }
