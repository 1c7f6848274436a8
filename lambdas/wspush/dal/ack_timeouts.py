"""The ack-timeout queue: one SQS message per push that asked for receipts, delayed by the
timeout (``DelaySeconds``, at most 900), read by the receipts function when it is due."""

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
