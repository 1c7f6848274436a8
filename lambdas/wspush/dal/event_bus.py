"""Publishing wspush's own events to its EventBridge bus."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from wspush.models.events import PublishError


class EventBus:
    def __init__(self, client: Any, bus_name: str, source: str) -> None:
        self._client = client
        self._bus = bus_name
        self._source = source

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        entry = {
            "EventBusName": self._bus,
            "Source": self._source,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, separators=(",", ":")),
        }
        try:
            response = self._client.put_events(Entries=[entry])
        except (ClientError, BotoCoreError) as error:
            raise PublishError(f"put_events on {self._bus} failed: {error}") from error
        if response.get("FailedEntryCount"):
            failure = response["Entries"][0]
            raise PublishError(
                f"put_events on {self._bus} refused {detail_type}: "
                f"{failure.get('ErrorCode')} {failure.get('ErrorMessage')}"
            )
