"""What the WebSocket route handlers share: the event fields they read, clients, responses."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

from wspush.config import LifecycleConfig
from wspush.dal.connections_table import ConnectionsTable
from wspush.dal.event_bus import EventBus
from wspush.dal.history_table import HistoryTable
from wspush.logic.announce import direct_announcer
from wspush.logic.lifecycle import SOURCE, Lifecycle
from wspush.logic.live_presence import LivePresence
from wspush.logic.push import Sender

# One session per container: its credentials sign @connections posts and its client
# reads the table, so a cold start builds one botocore session, not two.
session = boto3.Session(region_name=os.environ.get("AWS_REGION"))


def dynamodb_client() -> Any:
    # AWS_ENDPOINT_URL (honoured by boto3) points it at an emulator in the local stack.
    return session.client("dynamodb")


def lifecycle_events(
    config: LifecycleConfig,
    dynamodb: Any,
    announce_through: tuple[ConnectionsTable, Sender] | None = None,
) -> Lifecycle | None:
    """Lifecycle events to the bus, with topic occupancy counted in the history table;
    None when they are off. With ``announce_through`` (the connections table and
    ``@connections``) and presence topics configured, live presence too."""
    if config.event_bus_name is None or config.history_table is None:
        return None
    events = EventBus(session.client("events"), config.event_bus_name, SOURCE)
    counters = HistoryTable(dynamodb, config.history_table)
    presence = None
    if announce_through is not None and config.presence_topic_patterns:
        table, sender = announce_through
        presence = LivePresence(
            patterns=config.presence_topic_patterns,
            counters=counters,
            members=table,
            announce=direct_announcer(table, sender, config.presence_announce_limit),
            max_members=config.presence_max_members,
        )
    return Lifecycle(counters, events, presence=presence)


class WebSocketEvent:
    """The few fields wspush reads from API Gateway WebSocket events (routes and the
    $connect REQUEST authorizer). powertools' data_classes package would import every
    event class it defines, a sixth of a cold start, for these."""

    def __init__(self, event: dict[str, Any]) -> None:
        self._event = event
        self._context: dict[str, Any] = event.get("requestContext") or {}
        self._headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}

    @property
    def connection_id(self) -> str:
        connection_id: str = self._context["connectionId"]
        return connection_id

    def header(self, name: str) -> str | None:
        return self._headers.get(name.lower())

    def query(self, name: str) -> str | None:
        # A URL without a query string has no queryStringParameters key at all.
        value = (self._event.get("queryStringParameters") or {}).get(name)
        return value if isinstance(value, str) else None

    @property
    def authorizer_entity_id(self) -> str | None:
        """The entityId the $connect authorizer put in the context, on any route."""
        entity_id = (self._context.get("authorizer") or {}).get("entityId")
        return entity_id if isinstance(entity_id, str) and entity_id else None

    @property
    def granted_topic_patterns(self) -> tuple[str, ...]:
        """The token's ``topics`` claim, which the authorizer passes on as a JSON-encoded
        list (an authorizer context holds only strings, numbers and booleans)."""
        return self._patterns("topics")

    @property
    def granted_publish_patterns(self) -> tuple[str, ...]:
        """The token's ``publish`` claim, passed on as ``topics`` is."""
        return self._patterns("publish")

    def _patterns(self, key: str) -> tuple[str, ...]:
        raw = (self._context.get("authorizer") or {}).get(key)
        try:
            patterns = json.loads(raw) if isinstance(raw, str) else []
        except ValueError:
            return ()
        if not isinstance(patterns, list):
            return ()
        return tuple(p for p in patterns if isinstance(p, str) and p)

    @property
    def info(self) -> str | None:
        """The token's ``info`` claim, as the authorizer passed it on (compact JSON of an
        object, checked at $connect); None without one."""
        raw = (self._context.get("authorizer") or {}).get("info")
        return raw if isinstance(raw, str) and raw.startswith("{") else None

    @property
    def source_ip(self) -> str:
        return str((self._context.get("identity") or {}).get("sourceIp") or "")

    @property
    def user_agent(self) -> str:
        return str((self._context.get("identity") or {}).get("userAgent") or "")

    @property
    def disconnect_status_code(self) -> int | None:
        code = self._context.get("disconnectStatusCode")
        return code if isinstance(code, int) else None

    @property
    def disconnect_reason(self) -> str:
        reason = self._context.get("disconnectReason")
        return reason if isinstance(reason, str) and reason else "disconnected"

    @property
    def body(self) -> str | None:
        body = self._event.get("body")
        return body if isinstance(body, str) else None

    @property
    def is_base64_encoded(self) -> bool:
        return bool(self._event.get("isBase64Encoded"))


def http_response(
    status: int, body: str = "", headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response: dict[str, Any] = {"statusCode": status}
    if body:
        response["body"] = body
    if headers:
        response["headers"] = headers
    return response
