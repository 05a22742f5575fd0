"""Benchmark-only fixes for places where moto's costs grow with the whole table or queue.

Real DynamoDB answers a ``Query`` in time proportional to what it returns and a
``TransactWriteItems`` in time proportional to its items. moto 5.2 does neither:

* ``Table.query`` on the base table sorts *every item of the table* (``all_items()``), keeps those
  of the partition, sorts them again and only then applies the sort-key condition;
* ``DynamoDBBackend.transact_write_items`` deep-copies every table it touches, whole, as its
  rollback backup, before each transaction.

With one workspace's thousands of calls, events and deliveries in the single table, both make a
run quadratic in its length: the emulator, not the platform, would be measured. :func:`installed`
patches both for the duration of a benchmark, keeping their results identical:

* a base-table query sees only its own partition's items, already narrowed by the sort-key
  condition (the original code then sorts, filters and pages them as before);
* a transaction backs up only the items it names and, if it fails, puts exactly those back. This
  is equivalent to restoring the whole table because the local stack runs every DynamoDB write
  under one lock (``callingbox.local.aws._AtomicWrites``), so nothing else writes meanwhile.

SQS has a third: ``ReceiveMessage`` checks each message it returns against the queue's retention
period by computing *all* the queue's attributes, three of which count its messages one by one.
A queue with a backlog then costs O(backlog) per message received; the patch reads the retention
period alone. ``SendMessage`` computes them too, to read ``ContentBasedDeduplication``, an attribute
only FIFO queues have: for a standard queue the patched send sees the queue without attributes,
which is what it would find that key in.

And every request to the server lists moto's package directory (``list_of_moto_modules``, a
``listdir`` and an ``isdir`` per entry) to route itself, about a tenth of the server's time; the
list is read once.

moto keeps no global secondary index: a GSI query filters every item of the table (the dialer's
count of live calls, once per dial, over a table that grows by five items per call). The patch keeps
one, per table and index, from the index's hash value to the keys of the items that carry it: built
on a table's first index query, then updated after every put, update and delete (transactions and
batch writes go through those too) and every transaction rollback. The query then hands moto only
that partition of the index, which moto filters, sorts and pages as before. Scans are left as they
are (no hot path here uses them).

Two per-request costs of ``UpdateItem``, the commonest write: moto parses the update expression
twice per request (the platform sends a few dozen distinct texts), so parsed trees are kept by text
(every user deep-copies a tree before changing it); and it deep-copies the item being updated only
to give a table's stream its old image, which is skipped for tables without a stream.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Callable, Iterator
from typing import Any, Optional

__all__ = ["installed"]

_lock = threading.Lock()
# Distinct update expressions kept parsed (ours are a few dozen).
_MAX_PARSED = 512
_depth = 0
_undo: list[Any] = []


class _PartitionView:
    """The table as ``Table.query`` sees it, with ``all_items()`` limited to some items."""

    def __init__(self, table: Any, items: list[Any]) -> None:
        self._table = table
        self._items = items

    def all_items(self) -> list[Any]:
        return self._items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def _matches(key: Any, comparison: str, values: list[Any]) -> bool:
    if getattr(key, "type", None) == "S" and all(getattr(v, "type", None) == "S" for v in values):
        text = key.value
        if comparison == "BEGINS_WITH":
            return bool(text.startswith(values[0].value))
        if comparison == "BETWEEN":
            return bool(values[0].value <= text <= values[1].value)
    return bool(key.compare(comparison, values))


class _IndexCache:
    """A table's global secondary indexes: index name -> hash value -> item keys (see the module docstring)."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self._specs: dict[str, tuple[str, list[str]]] = {}
        for index in table.global_indexes:
            hashes = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
            ranges = [key["AttributeName"] for key in index.schema if key["KeyType"] == "RANGE"]
            if len(hashes) == 1:
                self._specs[index.name] = (hashes[0], ranges)
        self._by_index: dict[str, dict[Any, dict[Any, None]]] = {name: {} for name in self._specs}
        self._by_key: dict[Any, dict[str, Any]] = {}
        for item in [item for partition in list(table.items.values())
                     for item in (list(partition.values()) if isinstance(partition, dict) else [partition])]:
            self._put(self._key_of(item), item)

    def _key_of(self, item: Any) -> Any:
        return (item.hash_key, item.range_key if self.table.range_key_attr else None)

    def _put(self, key: Any, item: Any) -> None:
        entries = {}
        for name, (hash_attr, range_attrs) in self._specs.items():
            value = item.attrs.get(hash_attr)
            if value is None or not all(item.attrs.get(attr) for attr in range_attrs):
                continue  # not in this (sparse) index
            self._by_index[name].setdefault(value, {})[key] = None
            entries[name] = value
        if entries:
            self._by_key[key] = entries

    def reindex(self, hash_value: Any, range_value: Any) -> None:
        """Bring the entries of the item at this key (present or not) up to date."""
        key = (hash_value, range_value)
        for name, value in self._by_key.pop(key, {}).items():
            bucket = self._by_index[name].get(value, {})
            bucket.pop(key, None)
            if not bucket:
                self._by_index[name].pop(value, None)
        items = self.table.items
        item = items.get(hash_value, {}).get(range_value) if range_value is not None else items.get(hash_value)
        if item is not None:
            self._put(key, item)

    def items(self, index_name: str, hash_value: Any) -> Optional[list[Any]]:
        """The items in the index's partition ``hash_value``; None for an index this cache does not keep."""
        if index_name not in self._specs:
            return None
        items = self.table.items
        found = []
        for hash_key, range_key in list(self._by_index[index_name].get(hash_value, {})):
            item = items.get(hash_key, {}).get(range_key) if range_key is not None else items.get(hash_key)
            if item is not None:
                found.append(item)
        return found


def _install() -> list[Any]:
    import moto.dynamodb.models as backend_module
    from moto import backends
    from moto.core.utils import unix_time
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.sqs.models import Queue, SQSBackend

    original_query = Table.query
    original_transact = DynamoDBBackend.transact_write_items
    original_copy = backend_module.copy
    skip_table_copy = threading.local()
    skip_item_copy = threading.local()
    # Per table (by id; the cache holds the table, so the id stays its own): see _IndexCache.
    caches: dict[int, _IndexCache] = {}

    def query(self: Any, hash_key: Any, range_comparison: Any, range_objs: list[Any], *args: Any,
              **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[4] if len(args) > 4 else None)
        conditions = kwargs.get("hash_key_conditions") or []
        if index_name and (hash_key is not None or len(conditions) == 1):
            cache = caches.get(id(self))
            if cache is None or cache.table is not self:
                cache = caches[id(self)] = _IndexCache(self)
            partition = cache.items(index_name, hash_key if hash_key is not None else conditions[0][1])
            if partition is not None:
                return original_query(_PartitionView(self, partition), hash_key, range_comparison, range_objs,
                                      *args, **kwargs)
        if index_name and self.range_key_attr:
            # An index query filters every item, then sorts what matched: the items need no
            # sorting beforehand (moto's all_items() sorts the whole table first).
            every = [item for partition in list(self.items.values()) for item in list(partition.values())]
            return original_query(_PartitionView(self, every), hash_key, range_comparison, range_objs, *args, **kwargs)
        if index_name or hash_key is None or not self.range_key_attr:
            return original_query(self, hash_key, range_comparison, range_objs, *args, **kwargs)
        # list() of a dict's values runs without releasing the GIL: a concurrent write cannot
        # change the partition under it (moto's own all_items() has no such guarantee).
        items = list(self.items.get(hash_key, {}).values())
        if range_comparison:
            items = [item for item in items if _matches(item.range_key, range_comparison, range_objs)]
        return original_query(_PartitionView(self, items), hash_key, range_comparison, range_objs, *args, **kwargs)

    class _CopyShim:
        """``copy`` for moto's backend module: a table is not copied while :func:`transact` runs."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if isinstance(value, Table) and getattr(skip_table_copy, "on", False):
                return value
            if isinstance(value, Item) and getattr(skip_item_copy, "on", False):
                return value
            return copy.deepcopy(value, memo)

    def transact(self: Any, transact_items: list[dict[str, Any]]) -> None:
        try:
            backups = []
            for entry in transact_items:
                op_type, op = next(iter(entry.items()))
                table = self.tables.get(op.get("TableName"))
                if table is None:
                    continue
                key = op["Item"] if op_type == "Put" else op["Key"]
                hash_value = DynamoType(key[table.hash_key_attr])
                range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
                backups.append((table, hash_value, range_value,
                                copy.deepcopy(table.get_item(hash_value, range_value))))
        except Exception:  # noqa: BLE001 - malformed request: let moto's own code answer it
            return original_transact(self, transact_items)
        skip_table_copy.on = True
        try:
            return original_transact(self, transact_items)
        except Exception:
            for table, hash_value, range_value, item in reversed(backups):
                if item is not None:
                    if range_value is not None:
                        table.items[hash_value][range_value] = item
                    else:
                        table.items[hash_value] = item
                elif range_value is not None:
                    table.items.get(hash_value, {}).pop(range_value, None)
                else:
                    table.items.pop(hash_value, None)
                cache = caches.get(id(table))
                if cache is not None:
                    cache.reindex(hash_value, range_value)
            raise
        finally:
            skip_table_copy.on = False

    original_retention_check = SQSBackend.is_message_valid_based_on_retention_period

    def retained(self: Any, queue_name: str, message: Any) -> bool:
        retention_s = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention_s + message.sent_timestamp / 1000 > unix_time())

    original_send = SQSBackend.send_message
    original_attributes = Queue.attributes
    sending = threading.local()

    def send_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        if self.get_queue(queue_name).fifo_queue:
            return original_send(self, queue_name, *args, **kwargs)
        sending.on = True
        try:
            return original_send(self, queue_name, *args, **kwargs)
        finally:
            sending.on = False

    def attributes(self: Any) -> dict[str, Any]:
        if getattr(sending, "on", False):
            return {}
        return dict(original_attributes.fget(self))

    original_put = DynamoDBBackend.put_item
    original_update = DynamoDBBackend.update_item
    original_delete = DynamoDBBackend.delete_item

    def reindex(table: Any, key: Any) -> None:
        cache = caches.get(id(table))
        if cache is None or not isinstance(key, dict):
            return
        try:
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        except (KeyError, TypeError):
            return  # a malformed key: moto refused the write
        cache.reindex(hash_value, range_value)

    def written(write: Any, key_name: str) -> Any:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            table = self.tables.get(kwargs.get("table_name", args[0] if args else None))
            # update_item deep-copies the item it updates only to hand the stream its old image.
            skip_item_copy.on = table is not None and table.stream_shard is None
            try:
                return write(self, *args, **kwargs)
            finally:  # a refused write changed nothing, and reindexing it is harmless
                skip_item_copy.on = False
                if table is not None:
                    reindex(table, kwargs.get(key_name, args[1] if len(args) > 1 else None))

        return wrapper

    # Our writers send a handful of distinct update expressions; moto parses each one twice per
    # request. Every user of the tree deep-copies it before changing anything (the validator), or
    # only reads it (the response's unused-names check), so one parsed tree per text serves all.
    original_make = UpdateExpressionParser.__dict__["make"]
    parsed: dict[str, Any] = {}

    def make(cls: Any, expression: str) -> Any:
        tree = parsed.get(expression)
        if tree is None:
            tree = original_make.__func__(cls, expression)
            if len(parsed) < _MAX_PARSED:
                parsed[expression] = tree
        return tree

    original_modules = backends.list_of_moto_modules
    modules = tuple(original_modules())

    Table.query = query
    DynamoDBBackend.transact_write_items = transact
    UpdateExpressionParser.make = classmethod(make)
    DynamoDBBackend.put_item = written(original_put, "item_attrs")
    DynamoDBBackend.update_item = written(original_update, "key")
    DynamoDBBackend.delete_item = written(original_delete, "key")
    backends.list_of_moto_modules = lambda: modules
    backend_module.copy = _CopyShim()
    SQSBackend.is_message_valid_based_on_retention_period = retained
    SQSBackend.send_message = send_message
    Queue.attributes = property(attributes)

    def undo() -> None:
        Table.query = original_query
        DynamoDBBackend.transact_write_items = original_transact
        UpdateExpressionParser.make = original_make
        DynamoDBBackend.put_item = original_put
        DynamoDBBackend.update_item = original_update
        DynamoDBBackend.delete_item = original_delete
        backend_module.copy = original_copy
        SQSBackend.is_message_valid_based_on_retention_period = original_retention_check
        SQSBackend.send_message = original_send
        Queue.attributes = original_attributes
        backends.list_of_moto_modules = original_modules

    return [undo]


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """Patch moto (in this process) for the duration of the block; nesting is allowed."""
    global _depth, _undo
    with _lock:
        if _depth == 0:
            _undo = _install()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                for undo in _undo:
                    undo()
                _undo = []


# -- the emulation in a process of its own ------------------------------------------------------


class _ChildServer:
    """Stands for the moto server in :class:`~callingbox.local.aws.EmulatedAws`: ``stop()`` ends the process."""

    def __init__(self, process: Any, connection: Any) -> None:
        self._process = process
        self._connection = connection

    def cpu_seconds(self) -> float | None:
        """CPU seconds the emulation's process has used (None where ``/proc`` is not there)."""
        import os

        try:
            with open(f"/proc/{self._process.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        try:
            self._connection.send("stop")
        except (BrokenPipeError, OSError):
            pass
        self._process.join(timeout=15)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)


# The emulation process's collector: moto keeps every item as a tree of small objects, so a full
# collection walks the whole growing table; with Python's defaults it paused every request for up
# to 0.4 s several times a run. Collections are rarer here; the process lives for one run.
_EMULATION_GC_THRESHOLDS = (50_000, 50, 1_000)


def _serve(host: str, port: int, connection: Any) -> None:
    """The child process: the local stack's own emulation (same server, same provisioning), patched."""
    import gc

    from callingbox.local.aws import start_emulated_aws

    gc.set_threshold(*_EMULATION_GC_THRESHOLDS)

    with installed():
        aws = start_emulated_aws(host, port)
        connection.send(aws.queue_urls)
        try:
            connection.recv()  # "stop", or EOF when the parent is gone
        except EOFError:
            pass
        aws.stop()


def start_emulated_aws_process(host: str = "127.0.0.1", port: int | None = None) -> Any:
    """:func:`callingbox.local.aws.start_emulated_aws`, run in a child process (with :func:`installed`).

    Real AWS services do not share the platform's interpreter; in one process the emulator takes
    more than half of the GIL from the workers it serves. Returns the same ``EmulatedAws``.
    """
    import multiprocessing

    from callingbox.local.aws import EmulatedAws, free_port

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    chosen = port or free_port(host)
    process = context.Process(target=_serve, args=(host, chosen, child), name="emulated-aws", daemon=True)
    process.start()
    child.close()
    if not parent.poll(120):
        process.terminate()
        raise RuntimeError("the emulated AWS process did not start within 120 s")
    queue_urls = parent.recv()
    return EmulatedAws(endpoint_url=f"http://{host}:{chosen}", queue_urls=queue_urls,
                       server=_ChildServer(process, parent))


@contextlib.contextmanager
def emulation_in_subprocess() -> Iterator[None]:
    """While active, ``callingbox.local.stack.start_local_stack`` starts its emulated AWS in a child process."""
    from unittest import mock

    from callingbox.local import stack

    with mock.patch.object(stack, "start_emulated_aws", start_emulated_aws_process):
        yield
