"""Push: one function for the schedule, custom EventBridge events, direct invokes, and its
own shard and hand-on invocations. The handler reads the event into a piece of work and
``logic.coordinator`` does it (see ``logic.shards`` for how a push is split)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

from wspush.config import PushConfig
from wspush.dal.connections_api import ConnectionsApi
from wspush.dal.connections_table import ConnectionsTable
from wspush.dal.history_table import HistoryTable
from wspush.dal.shard_invoker import ShardInvoker, shard_client_config
from wspush.handlers import initialised
from wspush.handlers._shared import dynamodb_client, lifecycle_events, session
from wspush.logic import coordinator, strict_json
from wspush.logic.channels import History
from wspush.logic.coordinator import (
    DeliverySettings,
    HandOnWork,
    Invocation,
    NewPush,
    PushRuntime,
    ShardsFailed,
    ShardWork,
    Work,
)
from wspush.logic.envelope import UnsendableMessage
from wspush.logic.shards import HAND_ON_TASK, SHARD_TASK, Sharding
from wspush.models.channel import SequencePending
from wspush.models.push import DUPLICATE_IN_PROGRESS, InvalidPushRequest, parse_push_request
from wspush.observability import count, logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

config = PushConfig.from_env()
dynamodb = dynamodb_client()
table = ConnectionsTable(dynamodb, config.table_name)
history: History | None = History(
    HistoryTable(dynamodb, config.history_table), config.history_retention_seconds
)
connections_api = ConnectionsApi(config.connections_endpoint, credentials=session.get_credentials())
lifecycle = lifecycle_events(config.lifecycle, dynamodb, (table, connections_api))
# One pool per container, reused across invocations; each of its threads keeps its own
# connection to the @connections endpoint open.
executor = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="push")
# The coordinator's waits on its shard invocations.
shard_pool = ThreadPoolExecutor(max_workers=config.shard_parallelism, thread_name_prefix="shard")
sharding = Sharding(
    shard_size=config.shard_size,
    parallelism=config.shard_parallelism,
    rate_limit=config.rate_limit,
    margin_seconds=config.deadline_margin_seconds,
    max_hand_ons=config.max_hand_ons,
    max_age_seconds=config.max_age_seconds,
)
settings = DeliverySettings(
    concurrency=config.concurrency,
    max_attempts=config.max_attempts,
    connecting_window_seconds=config.connecting_window_seconds,
    deadline_margin_seconds=config.deadline_margin_seconds,
)
# Created on first use: a push that fits in one invocation never needs it.
_invoker: ShardInvoker | None = None

initialised()


SCHEDULED_DETAIL_TYPE = "Scheduled Event"

__all__ = ["ShardsFailed", "handler"]


def invoker() -> ShardInvoker:
    global _invoker
    if _invoker is None:
        client = session.client("lambda", config=shard_client_config(config.shard_parallelism))
        _invoker = ShardInvoker(client, config.function_name)
    return _invoker


class _InvokerProxy:
    """Defers creating the Lambda client until a push needs a second invocation."""

    def run(self, task: dict[str, Any]) -> dict[str, Any]:
        return invoker().run(task)

    def hand_on(self, task: dict[str, Any]) -> None:
        invoker().hand_on(task)


invoker_proxy = _InvokerProxy()


def work_from_event(event: Any) -> Work:
    """Read the event's shapes: the function's own shard and hand-on tasks, a bare
    scheduled event, an EventBridge event whose ``detail`` is a push request, or a push
    request itself (direct invoke, rule input)."""
    if isinstance(event, dict) and SHARD_TASK in event:
        return ShardWork(event[SHARD_TASK])
    if isinstance(event, dict) and HAND_ON_TASK in event:
        return HandOnWork(event)
    if isinstance(event, dict) and "detail-type" in event:
        event_id = event.get("id") if isinstance(event.get("id"), str) else None
        if event["detail-type"] == SCHEDULED_DETAIL_TYPE and event.get("source") == "aws.events":
            body = {"broadcast": True, "payload": config.scheduled_message, "type": "scheduled"}
            return NewPush(parse_push_request(body), event_id)
        return NewPush(parse_push_request(_strict(event.get("detail"))), event_id)
    return NewPush(parse_push_request(_strict(event)))


def _strict(body: Any) -> Any:
    """A push request as Lambda parsed it, held to the rules of ``strict_json`` (nesting,
    finite numbers, Unicode text), so it can be encoded and sent on."""
    try:
        strict_json.check(body)
    except strict_json.InvalidJson as error:
        raise InvalidPushRequest(f"malformed_json: {error}") from None
    return body


def runtime() -> PushRuntime:
    """The invocation's ports, read from this module's globals at each call."""
    return PushRuntime(
        store=table,
        sender=connections_api,
        history=history,
        runner=invoker_proxy,
        executor=executor,
        shard_pool=shard_pool,
        sharding=sharding,
        settings=settings,
        lifecycle=lifecycle,
    )


# clear_state: a warm container serves coordinators and shards in turn; keys one appends
# (audience, messageId, shard) must not leak into the next one's lines.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    invocation = Invocation(context.aws_request_id, context.get_remaining_time_in_millis)
    try:
        return coordinator.run(work_from_event(event), runtime(), invocation)
    except (InvalidPushRequest, UnsendableMessage) as error:
        # Raised on purpose: an asynchronous push (not retried by default) ends as an
        # invocation record in the dead-letter queue; a direct caller sees why (an
        # IdConflict too: its errorType tells the publish API to answer 409).
        count("PushRejected")
        logger.error("push refused", extra={"reason": str(error)})
        raise
    except SequencePending as error:
        # Another attempt of this push holds its claim and delivers it. Raising would not
        # get this one retried (retries default to 0, and EventBridge is done once Lambda
        # accepts the event): it would dead-letter a push that is being sent, and a redrive
        # would send it again. So it ends here, counted.
        count("PushDuplicateInProgress")
        logger.warning("duplicate push in progress", extra={"reason": str(error)})
        return {DUPLICATE_IN_PROGRESS: True, "reason": str(error)}
