"""Message routes (``ping``, ``subscribe``, ``unsubscribe``, ``resume``, ``presence``,
``publish``, ``$default``).

Whatever the client sends, it gets one reply frame and API Gateway gets a 200: bad input
never surfaces as a Lambda error. The routes are two-way (they have a route response), so
the reply is the returned ``body``, which API Gateway sends straight back to the client:
no ``@connections`` call. Only the pushes a ``resume`` replays before its reply are
posted through ``@connections``, with the push fan-out's retries.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

from wspush.config import ClientPublishConfig, MessageConfig
from wspush.dal.connections_api import ConnectionsApi
from wspush.dal.connections_table import PUBLISH_BUDGET_ATTRIBUTE, Bucket, ConnectionsTable
from wspush.dal.event_bus import EventBus
from wspush.dal.history_table import HistoryTable
from wspush.dal.hook_invoker import HOOK_WAIT_SECONDS, HookInvoker
from wspush.dal.push_invoker import PushInvoker, invoke_client_config
from wspush.handlers import initialised
from wspush.handlers._shared import (
    WebSocketEvent,
    dynamodb_client,
    http_response,
    lifecycle_events,
    session,
)
from wspush.logic import envelope
from wspush.logic.budget import Budgets
from wspush.logic.channels import History
from wspush.logic.client_publish import ClientPublishing, client_publish
from wspush.logic.lifecycle import SOURCE
from wspush.logic.messages import ChannelServices, InboundMessage, Reply, handle_message
from wspush.logic.push import Deadline, Delivery, Retry
from wspush.logic.resume import Replay, send_replay
from wspush.observability import count, count_by, logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

config = MessageConfig.from_env()
dynamodb = dynamodb_client()
table = ConnectionsTable(dynamodb, config.table_name)
connections_api = ConnectionsApi(config.connections_endpoint, credentials=session.get_credentials())
channels = ChannelServices(
    history=HistoryTable(dynamodb, config.history_table),
    members=table,
    resume_limit=config.resume_max_messages,
    lifecycle=lifecycle_events(config.lifecycle, dynamodb, (table, connections_api)),
    budgets=Budgets(table, config.budget_per_second, config.budget_burst),
)


# A large audience's hand-off is an asynchronous (Event) invoke: Lambda answers at once.
HAND_OFF_WAIT_SECONDS = 10.0


@cache
def lambda_client(wait_seconds: float) -> Any:
    """Created on first use: only a hook or a large audience's hand-off needs Lambda."""
    return session.client("lambda", config=invoke_client_config(wait_seconds))


class _PushFunction:
    def __init__(self, function_name: str) -> None:
        self._function_name = function_name

    def enqueue(self, request: dict[str, Any]) -> None:
        PushInvoker(lambda_client(HAND_OFF_WAIT_SECONDS), self._function_name).enqueue(request)


class _Hook:
    def __init__(self, function_arn: str) -> None:
        self._function_arn = function_arn

    def call(self, request: dict[str, Any]) -> Any:
        return HookInvoker(lambda_client(HOOK_WAIT_SECONDS), self._function_arn).call(request)


def _publishing(settings: ClientPublishConfig | None) -> ClientPublishing | None:
    if settings is None:
        return None
    executor = ThreadPoolExecutor(max_workers=settings.push_concurrency, thread_name_prefix="pub")
    lifecycle = channels.lifecycle

    def delivery(body: bytes, exclude_connection_id: str | None) -> Delivery:
        return Delivery(
            body=body,
            sender=connections_api,
            store=table,
            executor=executor,
            concurrency=settings.push_concurrency,
            max_attempts=settings.push_max_attempts,
            exclude_connection_id=exclude_connection_id,
            connecting_window_seconds=settings.connecting_window_seconds,
            lifecycle=lifecycle,
        )

    bus = settings.event_bus_name
    return ClientPublishing(
        history=History(
            HistoryTable(dynamodb, config.history_table), settings.history_retention_seconds
        ),
        targets=table,
        delivery=delivery,
        hand_off=_PushFunction(settings.push_function_name),
        inline_max_targets=settings.inline_max_targets,
        public_patterns=settings.public_patterns,
        budgets=Budgets(
            Bucket(table, PUBLISH_BUDGET_ATTRIBUTE), settings.rate_per_second, settings.burst
        ),
        hook=_Hook(settings.hook_arn) if settings.hook_arn else None,
        events=EventBus(session.client("events"), bus, SOURCE) if bus else None,
        event_patterns=settings.event_patterns,
    )


publishing = _publishing(config.client_publish)
# A replayed push is posted like a push's copy: up to 4 attempts, backing off on 429/5xx,
# none started within this margin of the function's end (the reply must still go out).
REPLAY_MAX_ATTEMPTS = 4
REPLAY_MARGIN_SECONDS = 2.0


initialised()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ws_event = WebSocketEvent(event)
    connection_id = ws_event.connection_id
    entity_id = ws_event.authorizer_entity_id
    logger.append_keys(connectionId=connection_id, entityId=entity_id)
    inbound = InboundMessage(
        body=ws_event.body,
        is_binary=ws_event.is_base64_encoded,
        connection_id=connection_id,
        entity_id=entity_id,
        granted_topics=ws_event.granted_topic_patterns,
        publish_patterns=ws_event.granted_publish_patterns,
        info=ws_event.info,
    )
    reply = handle_message(
        inbound,
        table,
        now=int(time.time()),
        ttl_seconds=config.connection_ttl_seconds,
        max_bytes=config.max_inbound_bytes,
        public_topics=config.public_topic_patterns,
        max_subscriptions=config.max_subscriptions,
        channels=_with_publish(context),
    )
    count("MessagesReceived")
    if reply.error_kind:
        count("MessageErrors")
        count_by("MessageErrorsByKind", "kind", reply.error_kind)
        logger.info("message refused", extra={"errorKind": reply.error_kind})
    frame = reply.frame
    if reply.replay is not None and reply.replay.frames:
        frame = _send_replay(reply.replay, connection_id, context)
    return http_response(200, envelope.encode(frame).decode("utf-8"))


def _with_publish(context: LambdaContext) -> ChannelServices:
    """The channel services, with the publish action for this invocation: an inline
    fan-out stops starting posts a margin before the function's end."""
    if publishing is None:
        return channels
    end = time.monotonic() + context.get_remaining_time_in_millis() / 1000
    deadline = Deadline(soft=end - REPLAY_MARGIN_SECONDS, hard=end - REPLAY_MARGIN_SECONDS / 2)
    services = replace(publishing, deadline=lambda: deadline)

    def publish(parsed: dict[str, Any], message: InboundMessage, now: float) -> Reply:
        reply = client_publish(parsed, message, services, time.time())
        count("ClientPublishes" if reply.error_kind is None else "ClientPublishesRefused")
        return reply

    return replace(channels, publish=publish)


def _send_replay(replay: Replay, connection_id: str, context: LambdaContext) -> dict[str, Any]:
    """A resume's replayed pushes go first, in order, through @connections, retried like a
    push's; the reply (the route response) then says where each channel really stands."""
    end = time.monotonic() + context.get_remaining_time_in_millis() / 1000
    deadline = Deadline(soft=end - REPLAY_MARGIN_SECONDS, hard=end - REPLAY_MARGIN_SECONDS / 2)
    report = send_replay(
        replay, connection_id, connections_api, Retry(REPLAY_MAX_ATTEMPTS, deadline)
    )
    count("ResumeFramesSent", report.sent)
    count("ResumeFramesFailed", report.failed)
    count("ResumeThrottled", report.throttled)
    extra = {"frames": len(replay.frames), "sent": report.sent, "failed": report.failed}
    if report.stopped and not report.gone:
        logger.warning("resume cut short", extra={**extra, "channels": report.stopped})
    else:
        logger.info("resume replayed", extra={**extra, "gone": report.gone})
    return report.reply
