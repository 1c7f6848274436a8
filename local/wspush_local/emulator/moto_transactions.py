"""moto's ``TransactWriteItems`` without copying whole tables.

moto backs up every table a transaction touches with ``copy.deepcopy`` before applying it
(to roll back a cancelled one), so each transaction costs time in proportion to the
table, not to its items: a burst of a thousand subscribes to one topic, each a two-item
transaction on a table that grows with every one, took a minute. DynamoDB's cost does not
grow with the table, so the emulator backs up only the items a transaction names and puts
exactly those back when it is cancelled.
"""

from __future__ import annotations

import copy
import functools
import types
from typing import Any

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

Backup = tuple[Table, DynamoType, DynamoType | None, Any]


def _deepcopy_but_tables(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """``copy.deepcopy``, except that a table is its own backup (its items are backed up
    one by one instead)."""
    return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _backups(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[Backup]:
    """A copy of each item the transaction names, as it is now (None: absent). Entries
    moto refuses are left to moto's own validation."""
    backups: list[Backup] = []
    for entry in transact_items:
        try:
            op_type, op = next(iter(entry.items()))
            table = backend.tables[op["TableName"]]
            key = op["Item"] if op_type == "Put" else op["Key"]
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        except (AttributeError, KeyError, StopIteration, TypeError):
            continue
        current = table.get_item(hash_value, range_value)
        backups.append((table, hash_value, range_value, copy.deepcopy(current)))
    return backups


def _restore(backups: list[Backup]) -> None:
    # Last first: an item named twice ends as it was before the first.
    for table, hash_value, range_value, item in reversed(backups):
        if range_value is None:
            table.items.pop(hash_value, None)
            if item is not None:
                table.items[hash_value] = item
        else:
            table.items[hash_value].pop(range_value, None)
            if item is not None:
                table.items[hash_value][range_value] = item


def back_up_touched_items_only() -> None:
    """Patch moto's ``transact_write_items`` as the module docstring says. Idempotent."""
    transact = DynamoDBBackend.transact_write_items
    if getattr(transact, "item_backups", False):
        return
    dynamodb_models.copy = types.SimpleNamespace(  # type: ignore[attr-defined]
        deepcopy=_deepcopy_but_tables
    )

    @functools.wraps(transact)
    def transact_with_item_backups(
        self: DynamoDBBackend, transact_items: list[dict[str, Any]]
    ) -> None:
        backups = _backups(self, transact_items)
        try:
            transact(self, transact_items)
        except Exception:
            _restore(backups)
            raise

    transact_with_item_backups.item_backups = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_with_item_backups  # type: ignore[method-assign]
