"""The ack-timeout queue: one SQS message per push that asked for receipts, delayed by the
timeout (``DelaySeconds``, at most 900), read by the receipts function when it is due; and
its dead-letter queue, where the receipts function sends a check that keeps failing."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from wspush.models.errors import StoreError


class AckTimeoutQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def schedule(self, check: dict[str, Any], delay_seconds: int) -> None:
        try:
            self._client.send_message(
                QueueUrl=self._url,
                MessageBody=json.dumps(check, separators=(",", ":")),
                DelaySeconds=delay_seconds,
            )
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"send_message to {self._url} failed: {error}") from error


class AckTimeoutDeadLetters:
    """The ack-timeout checks' dead-letter queue. The receipts function sends to it itself:
    the ack-timeout queue has no redrive policy (docs/receipts.md)."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, body: str) -> None:
        """The check's body, unchanged, so it can be sent back to the queue as it was."""
        try:
            self._client.send_message(QueueUrl=self._url, MessageBody=body)
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"send_message to {self._url} failed: {error}") from error
