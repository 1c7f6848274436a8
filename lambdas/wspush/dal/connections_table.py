"""The connections table: one row per live connection, plus topic subscription rows.

Key schema: partition ``entityId``, sort ``connectionId``; GSI ``byConnection`` on
``connectionId`` (keys only) finds every row of a connection. A subscription row lives
under the partition ``topic#<name>`` with the subscriber's ``connectionId``, its
``ownerEntityId``, the ``writeId`` of the subscribe that wrote it and, once its subscriber
is counted in the topic's occupancy, ``counted``. The connection row names its topics in
``topics`` (a string set), and a subscription row is only ever written in one transaction
with its name joining that set, conditioned on the connection row existing: once
``$disconnect`` has deleted the connection row, no subscription can be added, and the
deleted row (read back from the base table, strongly consistent) names every
subscription row there is. Every read paginates; a targeted read is a ``Query``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from wspush.models.connection import (
    BudgetSpend,
    Connection,
    DeletedRow,
    SubscribeOutcome,
    Target,
)
from wspush.models.errors import StoreError
from wspush.models.identifiers import TOPIC_PARTITION_PREFIX, topic_partition
from wspush.models.shard import ItemKey, Shard

CONNECTION_INDEX = "byConnection"
BATCH_WRITE_LIMIT = 25  # DynamoDB's maximum per BatchWriteItem
BATCH_GET_LIMIT = 100  # DynamoDB's maximum per BatchGetItem
BATCH_ATTEMPTS = 6  # unprocessed items are retried with backoff: at most 1.24 s of pauses
TRANSACTION_ATTEMPTS = 3  # a transaction conflicting with another one is tried again
CONDITION_FAILED = "ConditionalCheckFailed"
BUDGET_ATTEMPTS = 3  # a bucket another request changed between two conditions is re-read
# The connection row's token buckets (logic.budget): its request budget, and its own for
# the messages it publishes.
BUDGET_ATTRIBUTE = "budgetTat"
PUBLISH_BUDGET_ATTRIBUTE = "publishTat"
TRANSACTION_CONFLICT = "TransactionConflict"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


@dataclass(frozen=True)
class ConditionFailed:
    """A conditional write whose condition did not hold, and the item as it was."""

    item: dict[str, Any]


def _pause(
    attempt: int,
    sleep: Callable[[float], None],
    jitter: Callable[[float, float], float] = random.uniform,
) -> None:
    """Full jitter before retry ``attempt`` (1, 2, ...): up to 40 ms, 80 ms, ... 1 s."""
    sleep(jitter(0.0, min(1.0, 0.02 * 2**attempt)))


class ConnectionsTable:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self._client, operation)(
                TableName=self._table, **params
            )
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"{operation} on {self._table} failed: {error}") from error
        return response

    def _pages(self, operation: str, **params: Any) -> Iterator[dict[str, Any]]:
        while True:
            page = self._call(operation, **params)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _conditional(self, operation: str, **params: Any) -> dict[str, Any] | ConditionFailed:
        """Run a conditional write: its response, or ``ConditionFailed`` with the item as
        it was (when the call asked for it with ``ReturnValuesOnConditionCheckFailure``)."""
        try:
            response: dict[str, Any] = getattr(self._client, operation)(
                TableName=self._table, **params
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return ConditionFailed(error.response.get("Item") or {})
            raise StoreError(f"{operation} on {self._table} failed: {error}") from error
        except BotoCoreError as error:
            raise StoreError(f"{operation} on {self._table} failed: {error}") from error
        return response

    # Connections ------------------------------------------------------------------------

    def put_connection(self, connection: Connection) -> None:
        item = {
            "entityId": _s(connection.entity_id),
            "connectionId": _s(connection.connection_id),
            "connectedAt": _n(connection.connected_at),
            "expiresAt": _n(connection.expires_at),
        }
        if connection.source_ip:
            item["sourceIp"] = _s(connection.source_ip)
        if connection.user_agent:
            item["userAgent"] = _s(connection.user_agent)
        if connection.info:
            item["info"] = _s(connection.info)
        self._call("put_item", Item=item)

    def rows_of_connection(self, connection_id: str) -> list[tuple[str, str]]:
        """Every (partition key, connectionId) a connection owns: its row and subscriptions."""
        items = self._pages(
            "query",
            IndexName=CONNECTION_INDEX,
            KeyConditionExpression="connectionId = :c",
            ExpressionAttributeValues={":c": _s(connection_id)},
        )
        return [(item["entityId"]["S"], item["connectionId"]["S"]) for item in items]

    def delete_row(
        self, partition_key: str, connection_id: str, written_before: int | None = None
    ) -> DeletedRow | None:
        """Delete one row; deleting a row that is not there is not an error.

        With ``written_before``, a row whose ``connectedAt`` is at or after it is kept (the
        delete is conditional, so it cannot race a ``$connect`` writing that row). Returns
        the row as this call deleted it, or None when it deleted nothing (of two concurrent
        deletes, exactly one deleted the row).
        """
        condition: dict[str, Any] = {}
        if written_before is not None:
            condition = {
                "ConditionExpression": "attribute_not_exists(connectedAt) OR connectedAt < :w",
                "ExpressionAttributeValues": {":w": _n(written_before)},
            }
        response = self._conditional(
            "delete_item",
            Key={"entityId": _s(partition_key), "connectionId": _s(connection_id)},
            ReturnValues="ALL_OLD",
            **condition,
        )
        if isinstance(response, ConditionFailed):
            return None
        old = response.get("Attributes")
        if not old:
            return None
        return DeletedRow(
            partition_key=partition_key,
            topics=frozenset(old.get("topics", {}).get("SS", ())),
            counted=old.get("counted", {}).get("BOOL", False),
            expires_at=int(old.get("expiresAt", {}).get("N", "0")),
            info=old.get("info", {}).get("S"),
        )

    def delete_rows(
        self, rows: Sequence[tuple[str, str]], sleep: Callable[[float], None] = time.sleep
    ) -> None:
        """Delete many rows with ``BatchWriteItem``, 25 at a time, retrying the items
        DynamoDB leaves unprocessed with jittered exponential backoff. Raises
        ``StoreError`` if some remain after ``BATCH_ATTEMPTS`` (their TTL removes them)."""
        for start in range(0, len(rows), BATCH_WRITE_LIMIT):
            pending = [
                {"DeleteRequest": {"Key": {"entityId": _s(p), "connectionId": _s(c)}}}
                for p, c in rows[start : start + BATCH_WRITE_LIMIT]
            ]
            for attempt in range(BATCH_ATTEMPTS):
                if attempt:
                    _pause(attempt, sleep)
                pending = self._batch_write(pending)
                if not pending:
                    break
            else:
                raise StoreError(
                    f"BatchWriteItem on {self._table}: {len(pending)} deletes still "
                    f"unprocessed after {BATCH_ATTEMPTS} attempts"
                )

    def _batch_write(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        try:
            response = self._client.batch_write_item(RequestItems={self._table: requests})
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"batch_write_item on {self._table} failed: {error}") from error
        unprocessed: list[dict[str, Any]] = response.get("UnprocessedItems", {}).get(
            self._table, []
        )
        return unprocessed

    def list_connections(self, entity_id: str | None = None) -> list[Connection]:
        """Connection rows, of one entity (Query) or of all (Scan); subscriptions left out."""
        if entity_id is not None:
            items = self._pages(
                "query",
                KeyConditionExpression="entityId = :e",
                ExpressionAttributeValues={":e": _s(entity_id)},
            )
        else:
            items = self._pages("scan", **self._connection_rows_filter())
        return [
            Connection(
                entity_id=item["entityId"]["S"],
                connection_id=item["connectionId"]["S"],
                connected_at=int(item.get("connectedAt", {}).get("N", "0")),
                expires_at=int(item.get("expiresAt", {}).get("N", "0")),
                source_ip=item.get("sourceIp", {}).get("S", ""),
                user_agent=item.get("userAgent", {}).get("S", ""),
            )
            for item in items
        ]

    # Push targets -----------------------------------------------------------------------

    def target_page(
        self, shard: Shard, limit: int, now: int
    ) -> tuple[list[Target], ItemKey | None]:
        """One page (at most ``limit`` items read) of a shard's targets, in table order, and
        the key to continue after (None: the shard is done). Rows past ``expiresAt`` are
        not targets: DynamoDB's TTL deletion can lag by days."""
        values: dict[str, Any] = {":now": _n(now)}
        params: dict[str, Any] = {
            "Limit": limit,
            "FilterExpression": "(attribute_not_exists(expiresAt) OR expiresAt > :now)",
            "ExpressionAttributeValues": values,
        }
        if shard.after is not None:
            params["ExclusiveStartKey"] = {
                "entityId": _s(shard.after.partition_key),
                "connectionId": _s(shard.after.connection_id),
            }
        if shard.partition is None:
            params["FilterExpression"] += " AND NOT begins_with(entityId, :topic)"
            values[":topic"] = _s(TOPIC_PARTITION_PREFIX)
            if shard.total_segments > 1:
                params["Segment"] = shard.segment
                params["TotalSegments"] = shard.total_segments
            params["ProjectionExpression"] = "entityId, connectionId, connectedAt"
            page = self._call("scan", **params)
        else:
            condition = "entityId = :p"
            values[":p"] = _s(shard.partition)
            if shard.through is not None:
                condition += " AND connectionId <= :through"
                values[":through"] = _s(shard.through)
            params["KeyConditionExpression"] = condition
            params["ProjectionExpression"] = "entityId, connectionId, connectedAt, ownerEntityId"
            page = self._call("query", **params)
        targets = [
            Target(
                item["entityId"]["S"],
                item["connectionId"]["S"],
                item.get("ownerEntityId", {}).get("S"),
                connected_at=int(item.get("connectedAt", {}).get("N", "0")),
            )
            for item in page.get("Items", [])
        ]
        last = page.get("LastEvaluatedKey")
        next_key = ItemKey(last["entityId"]["S"], last["connectionId"]["S"]) if last else None
        return targets, next_key

    def topic_members(self, topic: str, now: int) -> list[Target]:
        """Every live subscription row of a topic (its connection and owner), for presence."""
        items = self._pages(
            "query",
            KeyConditionExpression="entityId = :t",
            FilterExpression="attribute_not_exists(expiresAt) OR expiresAt > :now",
            ExpressionAttributeValues={":t": _s(topic_partition(topic)), ":now": _n(now)},
            ProjectionExpression="entityId, connectionId, ownerEntityId, info",
        )
        return [
            Target(
                item["entityId"]["S"],
                item["connectionId"]["S"],
                item.get("ownerEntityId", {}).get("S"),
                info=item.get("info", {}).get("S"),
            )
            for item in items
        ]

    def subscriptions_of(
        self, targets: Sequence[Target], sleep: Callable[[float], None] = time.sleep
    ) -> dict[str, frozenset[str]]:
        """The subscriptions (the connection row's ``topics``) of each target's connection,
        by connectionId, read with ``BatchGetItem`` (100 keys a call, strongly
        consistent); a connection whose row is gone (closing) is left out."""
        keys = {(t.owner_entity_id, t.connection_id): None for t in targets if t.owner_entity_id}
        found: dict[str, frozenset[str]] = {}
        wanted = [{"entityId": _s(e), "connectionId": _s(c)} for e, c in keys if e]
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            pending = wanted[start : start + BATCH_GET_LIMIT]
            for attempt in range(BATCH_ATTEMPTS):
                if attempt:
                    _pause(attempt, sleep)
                request = {
                    self._table: {
                        "Keys": pending,
                        "ProjectionExpression": "connectionId, topics",
                        "ConsistentRead": True,
                    }
                }
                try:
                    response = self._client.batch_get_item(RequestItems=request)
                except (ClientError, BotoCoreError) as error:
                    raise StoreError(f"batch_get_item on {self._table} failed: {error}") from error
                for item in response.get("Responses", {}).get(self._table, []):
                    topics = frozenset(item.get("topics", {}).get("SS", ()))
                    found[item["connectionId"]["S"]] = topics
                pending = response.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
                if not pending:
                    break
            else:
                raise StoreError(
                    f"BatchGetItem on {self._table}: {len(pending)} keys still unprocessed "
                    f"after {BATCH_ATTEMPTS} attempts"
                )
        return found

    def connection_targets(self, connection_id: str) -> list[Target]:
        return [
            Target(partition, connection)
            for partition, connection in self.rows_of_connection(connection_id)
            if not partition.startswith(TOPIC_PARTITION_PREFIX)
        ]

    @staticmethod
    def _connection_rows_filter() -> dict[str, Any]:
        return {
            "FilterExpression": "NOT begins_with(entityId, :topic)",
            "ExpressionAttributeValues": {":topic": _s(TOPIC_PARTITION_PREFIX)},
        }

    def count_rows(self, partition_key: str, limit: int) -> int:
        """How many rows a partition holds, counting no further than ``limit``."""
        params: dict[str, Any] = {
            "KeyConditionExpression": "entityId = :pk",
            "ExpressionAttributeValues": {":pk": _s(partition_key)},
            "Select": "COUNT",
        }
        counted = 0
        while counted < limit:
            page = self._call("query", Limit=limit - counted, **params)
            counted += int(page.get("Count", 0))
            if "LastEvaluatedKey" not in page:
                break
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return counted

    # Subscriptions ----------------------------------------------------------------------

    def add_subscription(
        self,
        topic: str,
        connection_id: str,
        owner_entity_id: str | None,
        expires_at: int,
        limit: int,
        write_id: str,
        info: str | None = None,
    ) -> SubscribeOutcome:
        """Write the subscription row (tagged ``write_id``) and name its topic on the
        connection row, atomically, if the connection row exists and names fewer than
        ``limit`` topics. Two racing subscribes cannot both pass the limit, and none can
        pass a ``$disconnect`` that deleted the connection row: the set, its size and the
        row's existence are conditions of one transaction."""
        owner = owner_entity_id or self._owner_of(connection_id)
        if owner is None:
            return SubscribeOutcome.CONNECTION_GONE
        join = {
            "Update": {
                "TableName": self._table,
                "Key": {"entityId": _s(owner), "connectionId": _s(connection_id)},
                "UpdateExpression": "ADD topics :topic",
                "ConditionExpression": "attribute_exists(connectionId) AND "
                "(attribute_not_exists(topics) OR size(topics) < :limit)",
                "ExpressionAttributeValues": {":topic": {"SS": [topic]}, ":limit": _n(limit)},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
        row = {
            "Put": {
                "TableName": self._table,
                "Item": {
                    "entityId": _s(topic_partition(topic)),
                    "connectionId": _s(connection_id),
                    "expiresAt": _n(expires_at),
                    "ownerEntityId": _s(owner),
                    "writeId": _s(write_id),
                    **({"info": _s(info)} if info else {}),
                },
                "ConditionExpression": "attribute_not_exists(connectionId)",
            }
        }
        reasons = self._transact([join, row])
        if reasons is None:
            return SubscribeOutcome.ADDED
        if reasons[1].get("Code") == CONDITION_FAILED:
            return SubscribeOutcome.ALREADY_SUBSCRIBED
        if "Item" in reasons[0]:
            return SubscribeOutcome.LIMIT_REACHED
        return SubscribeOutcome.CONNECTION_GONE

    def mark_counted(self, topic: str, connection_id: str, write_id: str) -> bool:
        """Mark the subscription row ``write_id`` wrote as counted in its topic's
        occupancy; False when that row is gone already (its deleter did not uncount it)."""
        marked = self._conditional(
            "update_item",
            Key={"entityId": _s(topic_partition(topic)), "connectionId": _s(connection_id)},
            UpdateExpression="SET counted = :true",
            ConditionExpression="writeId = :write",
            ExpressionAttributeValues={":true": {"BOOL": True}, ":write": _s(write_id)},
        )
        return not isinstance(marked, ConditionFailed)

    def remove_subscription(
        self, topic: str, connection_id: str, owner_entity_id: str | None
    ) -> DeletedRow | None:
        """Delete the subscription row, then take its topic off the connection row unless
        a subscribe wrote the row again in between (the set may name a topic whose row is
        gone, never the other way round). Unsubscribing from a topic the connection does
        not hold changes nothing. Returns the row as this call deleted it (of two racing
        unsubscribes, exactly one did), else None."""
        partition = topic_partition(topic)
        deleted = self.delete_row(partition, connection_id)
        owner = owner_entity_id or self._owner_of(connection_id)
        if deleted is None or owner is None:  # nothing deleted, or the connection is closing
            return deleted
        still_gone = {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": {"entityId": _s(partition), "connectionId": _s(connection_id)},
                "ConditionExpression": "attribute_not_exists(connectionId)",
            }
        }
        leave = {
            "Update": {
                "TableName": self._table,
                "Key": {"entityId": _s(owner), "connectionId": _s(connection_id)},
                "UpdateExpression": "DELETE topics :topic",
                "ConditionExpression": "attribute_exists(connectionId)",
                "ExpressionAttributeValues": {":topic": {"SS": [topic]}},
            }
        }
        self._transact([still_gone, leave])  # refused: subscribed again, or closing
        return deleted

    # Budgets -----------------------------------------------------------------------------

    def spend_budget(
        self,
        connection_id: str,
        owner_entity_id: str | None,
        cost_ms: int,
        now_ms: int,
        tolerance_ms: int,
        bucket: str = BUDGET_ATTRIBUTE,
    ) -> BudgetSpend:
        """Move the connection's ``budgetTat`` (or another ``bucket`` attribute) on by
        ``cost_ms`` if the bucket allows it (``logic.budget``): from now when it is full
        (absent or in the past), else from where it stands as long as it stays within
        ``tolerance_ms`` of now. One conditional ``UpdateItem``; a second one only when the
        first finds the bucket partly spent."""
        owner = owner_entity_id or self._owner_of(connection_id)
        if owner is None:
            return BudgetSpend(allowed=False, tat_ms=None)
        key = {"entityId": _s(owner), "connectionId": _s(connection_id)}
        full = {
            "UpdateExpression": "SET #tat = :after",
            "ConditionExpression": "attribute_exists(connectionId) AND "
            "(attribute_not_exists(#tat) OR #tat <= :now)",
            "ExpressionAttributeValues": {":now": _n(now_ms), ":after": _n(now_ms + cost_ms)},
        }
        partly_spent = {
            "UpdateExpression": "SET #tat = #tat + :cost",
            "ConditionExpression": "attribute_exists(connectionId) AND "
            "#tat > :now AND #tat <= :limit",
            "ExpressionAttributeValues": {
                ":now": _n(now_ms),
                ":cost": _n(cost_ms),
                ":limit": _n(now_ms + tolerance_ms - cost_ms),
            },
        }
        tat: int | None = None
        for _ in range(BUDGET_ATTEMPTS):
            for update in (full, partly_spent):
                response = self._conditional(
                    "update_item",
                    Key=key,
                    ReturnValues="UPDATED_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    ExpressionAttributeNames={"#tat": bucket},
                    **update,
                )
                if not isinstance(response, ConditionFailed):
                    return BudgetSpend(
                        allowed=True, tat_ms=int(response["Attributes"][bucket]["N"])
                    )
                if not response.item:
                    return BudgetSpend(allowed=False, tat_ms=None)  # the row is gone
                tat = int(response.item.get(bucket, {}).get("N", "0"))
                if tat > now_ms + tolerance_ms - cost_ms:
                    return BudgetSpend(allowed=False, tat_ms=tat)
        return BudgetSpend(allowed=False, tat_ms=tat)

    def charge_budget(
        self,
        connection_id: str,
        owner_entity_id: str | None,
        cost_ms: int,
        bucket: str = BUDGET_ATTRIBUTE,
    ) -> None:
        """Move a bucket already in use on by ``cost_ms``, whatever it holds (what a
        resume's replay used, charged after it was planned)."""
        owner = owner_entity_id or self._owner_of(connection_id)
        if owner is None:
            return
        self._conditional(  # a bucket not in use (the row is gone) is not charged
            "update_item",
            Key={"entityId": _s(owner), "connectionId": _s(connection_id)},
            UpdateExpression="ADD #tat :cost",
            ConditionExpression="attribute_exists(#tat)",
            ExpressionAttributeNames={"#tat": bucket},
            ExpressionAttributeValues={":cost": _n(cost_ms)},
        )

    def _owner_of(self, connection_id: str) -> str | None:
        """The entity of a connection, read from the GSI (only when the route event does
        not carry it: with the authorizer turned off)."""
        return next(
            (
                partition
                for partition, _ in self.rows_of_connection(connection_id)
                if not partition.startswith(TOPIC_PARTITION_PREFIX)
            ),
            None,
        )

    def _transact(self, items: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """Run ``TransactWriteItems``; None on success, else the cancellation reasons (one
        per item) when conditions failed. Conflicts with concurrent transactions on the
        same items are retried; anything else is a ``StoreError``."""
        attempt = 0
        while True:
            attempt += 1
            try:
                self._client.transact_write_items(TransactItems=items)
                return None
            except BotoCoreError as error:
                raise StoreError(f"transact_write_items on {self._table}: {error}") from error
            except ClientError as error:
                reasons: list[dict[str, Any]] = error.response.get("CancellationReasons") or []
                codes = {reason.get("Code") for reason in reasons}
                if error.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                    if codes <= {CONDITION_FAILED, "None", None} and len(reasons) == len(items):
                        return reasons
                    if TRANSACTION_CONFLICT in codes and attempt < TRANSACTION_ATTEMPTS:
                        _pause(attempt, time.sleep)
                        continue
                raise StoreError(f"transact_write_items on {self._table}: {error}") from error


class Bucket:
    """One of the connection row's token buckets, under its own attribute: the
    ``logic.budget`` store for that bucket alone."""

    def __init__(self, table: ConnectionsTable, attribute: str) -> None:
        self._table = table
        self._attribute = attribute

    def spend_budget(
        self,
        connection_id: str,
        owner_entity_id: str | None,
        cost_ms: int,
        now_ms: int,
        tolerance_ms: int,
    ) -> BudgetSpend:
        return self._table.spend_budget(
            connection_id, owner_entity_id, cost_ms, now_ms, tolerance_ms, self._attribute
        )

    def charge_budget(self, connection_id: str, owner_entity_id: str | None, cost_ms: int) -> None:
        self._table.charge_budget(connection_id, owner_entity_id, cost_ms, self._attribute)
