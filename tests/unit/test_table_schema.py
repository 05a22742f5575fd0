"""The table definition (which CDK and the local stack create) and the PynamoDB items agree."""

from __future__ import annotations

from callingbox.core import resources
from callingbox.core.store.items import ALL_ITEMS, CallItem, SegmentItem


def _index(name: str) -> dict:
    return next(index for index in resources.table_definition()["GlobalSecondaryIndexes"] if index["IndexName"] == name)


def test_the_live_index_is_defined_once_and_used_by_the_item() -> None:
    index = _index(resources.LIVE_INDEX.name)
    assert index["KeySchema"] == [{"AttributeName": "LIVEPK", "KeyType": "HASH"},
                                  {"AttributeName": "SK", "KeyType": "RANGE"}]
    assert {"AttributeName": "LIVEPK", "AttributeType": "S"} in resources.table_definition()["AttributeDefinitions"]
    assert CallItem.live.attr_name == resources.LIVE_INDEX.attribute
    assert CallItem.live_calls.Meta.index_name == resources.LIVE_INDEX.name
    # The index projects what the sweeper filters on, by the names the item writes.
    assert index["Projection"] == {"ProjectionType": "INCLUDE",
                                   "NonKeyAttributes": [CallItem.status.attr_name, CallItem.heartbeat_at.attr_name]}


def test_the_list_indexes_are_unchanged() -> None:
    for spec in resources.CALL_INDEXES:
        assert _index(spec.name)["Projection"] == {"ProjectionType": "ALL"}
    assert len(resources.table_definition()["GlobalSecondaryIndexes"]) == len(resources.CALL_INDEXES) + 1


def test_segments_are_bound_with_every_other_item() -> None:
    assert SegmentItem in ALL_ITEMS
