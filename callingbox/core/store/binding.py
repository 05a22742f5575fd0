"""Point the PynamoDB item classes at a deployment's table (an explicit step, never at import)."""

from __future__ import annotations

from typing import Optional

from pynamodb.connection import Connection
from pynamodb.transactions import TransactWrite

from ..settings import Settings
from .items import ALL_ITEMS

__all__ = ["bind_store", "transaction"]

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
    _bound = target


def transaction() -> TransactWrite:
    """A write transaction on the bound table."""
    if _connection is None:
        raise RuntimeError("bind_store(settings) must run before the store is used")
    return TransactWrite(connection=_connection)
