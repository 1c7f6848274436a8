"""The API Gateway Management API (``@connections``), reduced to one call and its outcome."""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from wspush.models.push import Outcome


def outcome_of_status(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome.SENT
    if status == 410:
        return Outcome.GONE
    if status == 429:
        return Outcome.THROTTLED
    if status >= 500:
        return Outcome.SERVER_ERROR
    return Outcome.REJECTED


def make_client(endpoint: str, pool_size: int) -> Any:
    """One client per container, its pool sized to the fan-out, botocore retries off
    (the caller retries with its own backoff and counts the attempts)."""
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        config=Config(
            max_pool_connections=pool_size,
            retries={"total_max_attempts": 1},
            connect_timeout=3,
            read_timeout=5,
            tcp_keepalive=True,
        ),
    )


class ConnectionsApi:
    def __init__(self, client: Any) -> None:
        self._client = client

    def post(self, connection_id: str, data: bytes) -> Outcome:
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
            return outcome_of_status(int(status))
        except BotoCoreError:
            return Outcome.SERVER_ERROR
        return Outcome.SENT
