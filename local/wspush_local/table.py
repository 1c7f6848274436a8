"""The connections and history tables exactly as Terraform defines them, for code that runs without
Terraform: the integration tests and the benchmarks."""

from __future__ import annotations

from typing import Any

from wspush.dal.connections_table import CONNECTION_INDEX


def create_connections_table(client: Any, name: str) -> None:
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "entityId", "AttributeType": "S"},
            {"AttributeName": "connectionId", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "entityId", "KeyType": "HASH"},
            {"AttributeName": "connectionId", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": CONNECTION_INDEX,
                "KeySchema": [{"AttributeName": "connectionId", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )


def create_history_table(client: Any, name: str) -> None:
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "channel", "AttributeType": "S"},
            {"AttributeName": "seq", "AttributeType": "N"},
        ],
        KeySchema=[
            {"AttributeName": "channel", "KeyType": "HASH"},
            {"AttributeName": "seq", "KeyType": "RANGE"},
        ],
    )
