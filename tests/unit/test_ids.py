"""Prefixed, time-sortable ids."""

from __future__ import annotations

import pytest

from callingbox.core.ids import has_prefix, id_ceiling, id_floor, new_id


def test_ids_carry_their_prefix_and_are_unique() -> None:
    ids = {new_id("call") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(has_prefix(value, "call") for value in ids)


def test_ids_sort_by_creation_time() -> None:
    earlier = new_id("call", now_ms=1_700_000_000_000)
    later = new_id("call", now_ms=1_700_000_000_001)
    assert earlier < later


def test_time_bounds_bracket_every_id_of_that_second() -> None:
    second = 1_700_000_000
    inside = [new_id("call", now_ms=second * 1000 + offset) for offset in (0, 500, 999)]
    assert all(id_floor("call", second) <= value <= id_ceiling("call", second) for value in inside)
    assert new_id("call", now_ms=second * 1000 - 1) < id_floor("call", second)
    assert new_id("call", now_ms=(second + 1) * 1000) > id_ceiling("call", second)


def test_unknown_prefixes_are_refused() -> None:
    with pytest.raises(ValueError):
        new_id("nope")
