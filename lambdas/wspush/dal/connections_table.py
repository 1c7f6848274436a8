"""The connections table: one row per live connection, plus topic subscription rows.

Key schema: partition ``entityId``, sort ``connectionId``; GSI ``byConnection`` on
``connectionId`` (keys only) finds every row of a connection. A subscription row lives
under the partition ``topic#<name>`` with the subscriber's ``connectionId`` and, when
known, its ``ownerEntityId``. Every read paginates; a targeted read is a ``Query``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from wspush.dal.errors import StoreError
from wspush.models.connection import Connection, Target
from wspush.models.identifiers import TOPIC_PARTITION_PREFIX, topic_partition
from wspush.models.shard import ItemKey, Shard

CONNECTION_INDEX = "byConnection"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


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
    ) -> bool:
        """Delete one row; deleting a row that is not there is not an error.

        With ``written_before``, a row whose ``connectedAt`` is at or after it is kept (the
        delete is conditional, so it cannot race a ``$connect`` writing that row); returns
        whether the row is gone.
        """
        condition: dict[str, Any] = {}
        if written_before is not None:
            condition = {
                "ConditionExpression": "attribute_not_exists(connectedAt) OR connectedAt < :w",
                "ExpressionAttributeValues": {":w": _n(written_before)},
            }
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"entityId": _s(partition_key), "connectionId": _s(connection_id)},
                **condition,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise StoreError(f"delete_item on {self._table} failed: {error}") from error
        except BotoCoreError as error:
            raise StoreError(f"delete_item on {self._table} failed: {error}") from error
        return True

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

    def put_subscription(
        self, topic: str, connection_id: str, owner_entity_id: str | None, expires_at: int
    ) -> None:
        item = {
            "entityId": _s(topic_partition(topic)),
            "connectionId": _s(connection_id),
            "expiresAt": _n(expires_at),
        }
        if owner_entity_id:
            item["ownerEntityId"] = _s(owner_entity_id)
        self._call("put_item", Item=item)

    def delete_subscription(self, topic: str, connection_id: str) -> None:
        self.delete_row(topic_partition(topic), connection_id)
