"""Point the PynamoDB item classes at a deployment's table (an explicit step, never at import)."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from pynamodb.connection import Connection
from pynamodb.transactions import TransactWrite

from ..settings import Settings
from .items import ALL_ITEMS

__all__ = ["bind_store", "transaction", "update_item"]

# Enough pooled HTTP connections for a threaded local server under the 20-way race tests.
MAX_POOL_CONNECTIONS = 64

_bound: Optional[tuple[str, str, Optional[str]]] = None
_connection: Optional[Connection] = None


def bind_store(settings: Settings) -> None:
    """Bind every item class to ``settings``' table, region and endpoint; idempotent."""
    global _bound, _connection
    target = (settings.table_name, settings.region, settings.aws_endpoint_url)
    if _bound == target:
        return
    for item in ALL_ITEMS:
        item.Meta.table_name = settings.table_name
        item.Meta.region = settings.region
        item.Meta.host = settings.aws_endpoint_url
        item.Meta.max_pool_connections = MAX_POOL_CONNECTIONS
        # PynamoDB caches one connection per class; drop it so the new target is used.
        item._connection = None
    _connection = Connection(region=settings.region, host=settings.aws_endpoint_url,
                             max_pool_connections=MAX_POOL_CONNECTIONS)
    _build_clients([item._get_connection().connection for item in ALL_ITEMS] + [_connection])
    _bound = target


def _build_clients(connections: list[Connection]) -> None:
    """Build each connection's DynamoDB client now, from the process's botocore session.

    PynamoDB builds a client per item class on first use, each from a botocore session of its own
    (about 60 ms of CPU and a fresh copy of the service model each). Built here from the shared
    session they cost about 2 ms each, and no request pays for one (the dialer's first pacing slot
    would be late by it). PynamoDB reads the session from a per-thread slot only to build the
    client, which it then keeps.
    """
    from ..aws_clients import building

    with building() as session:
        for connection in connections:
            connection._local.session = session
            connection.client  # noqa: B018 - building it is the point


def transaction() -> TransactWrite:
    """A write transaction on the bound table."""
    if _connection is None:
        raise RuntimeError("bind_store(settings) must run before the store is used")
    return TransactWrite(connection=_connection)


def update_item(model: Any, pk: str, sk: str, *, actions: Sequence[Any], condition: Any = None,
                return_values: Optional[str] = None) -> dict[str, Any]:
    """UpdateItem on the item ``(pk, sk)`` of ``model``'s table, answering only what
    ``return_values`` asks for (default: nothing).

    PynamoDB's ``Model.update`` always asks for the whole item back (``ALL_NEW``), which our writers
    never read: a call's JSON document would cross the wire twice per status change. A failed
    condition raises ``UpdateError`` exactly as ``Model.update`` does.
    """
    # The model's own table connection: it carries the table's key schema (no DescribeTable).
    return model._get_connection().update_item(pk, range_key=sk, actions=list(actions), condition=condition,
                                               return_values=return_values)
