"""The connections table: one row per live connection, plus topic subscription rows.

Key schema: partition ``entityId``, sort ``connectionId``; GSI ``byConnection`` on
``connectionId`` (keys only) finds every row of a connection. A subscription row lives
under the partition ``topic#<name>`` with the subscriber's ``connectionId`` and, when
known, its ``ownerEntityId``. Every read paginates; a targeted read is a ``Query``.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from wspush.dal.errors import StoreError
from wspush.models.connection import Connection, Target
from wspush.models.identifiers import TOPIC_PARTITION_PREFIX, topic_partition

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

    def delete_row(self, partition_key: str, connection_id: str) -> bool:
        """Delete one row; deleting a row that is not there is not an error. Returns
        whether this call deleted it (of two concurrent deletes, exactly one did)."""
        response = self._call(
            "delete_item",
            Key={"entityId": _s(partition_key), "connectionId": _s(connection_id)},
            ReturnValues="ALL_OLD",
        )
        return bool(response.get("Attributes"))

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

    def entity_targets(self, entity_id: str) -> list[Target]:
        items = self._pages(
            "query",
            KeyConditionExpression="entityId = :e",
            ExpressionAttributeValues={":e": _s(entity_id)},
            ProjectionExpression="entityId, connectionId",
        )
        return [Target(entity_id, item["connectionId"]["S"]) for item in items]

    def topic_targets(self, topic: str) -> list[Target]:
        partition = topic_partition(topic)
        items = self._pages(
            "query",
            KeyConditionExpression="entityId = :t",
            ExpressionAttributeValues={":t": _s(partition)},
            ProjectionExpression="connectionId, ownerEntityId",
        )
        return [
            Target(partition, item["connectionId"]["S"], item.get("ownerEntityId", {}).get("S"))
            for item in items
        ]

    def connection_targets(self, connection_id: str) -> list[Target]:
        return [
            Target(partition, connection)
            for partition, connection in self.rows_of_connection(connection_id)
            if not partition.startswith(TOPIC_PARTITION_PREFIX)
        ]

    def all_targets(self, segments: int, executor: ThreadPoolExecutor) -> list[Target]:
        """Every connection row, read by a parallel segmented Scan."""

        def scan_segment(segment: int) -> list[Target]:
            items = self._pages(
                "scan",
                Segment=segment,
                TotalSegments=segments,
                ProjectionExpression="entityId, connectionId",
                **self._connection_rows_filter(),
            )
            return [Target(item["entityId"]["S"], item["connectionId"]["S"]) for item in items]

        targets: list[Target] = []
        for part in executor.map(scan_segment, range(segments)):
            targets.extend(part)
        return targets

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
    ) -> bool:
        """Write (or refresh) a subscription row; returns whether it is new."""
        item = {
            "entityId": _s(topic_partition(topic)),
            "connectionId": _s(connection_id),
            "expiresAt": _n(expires_at),
        }
        if owner_entity_id:
            item["ownerEntityId"] = _s(owner_entity_id)
        response = self._call("put_item", Item=item, ReturnValues="ALL_OLD")
        return not response.get("Attributes")

    def delete_subscription(self, topic: str, connection_id: str) -> bool:
        """Delete a subscription row; returns whether this call deleted it."""
        return self.delete_row(topic_partition(topic), connection_id)
