"""The connections and history tables exactly as Terraform defines them, for code that runs without
Terraform: the integration tests and the benchmarks."""

from __future__ import annotations

from typing import Any

from wspush.dal.connections_table import CONNECTION_INDEX


def _create(client: Any, name: str, keys: list[tuple[str, str]], **extra: Any) -> None:
    """An on-demand table keyed by ``keys`` ((name, type): partition, then sort)."""
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": t} for k, t in keys],
        KeySchema=[
            {"AttributeName": k, "KeyType": role}
            for (k, _), role in zip(keys, ("HASH", "RANGE"), strict=True)
        ],
        **extra,
    )


def create_connections_table(client: Any, name: str) -> None:
    _create(
        client,
        name,
        [("entityId", "S"), ("connectionId", "S")],
        GlobalSecondaryIndexes=[
            {
                "IndexName": CONNECTION_INDEX,
                "KeySchema": [{"AttributeName": "connectionId", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )


def create_history_table(client: Any, name: str) -> None:
    _create(client, name, [("channel", "S"), ("seq", "N")])
