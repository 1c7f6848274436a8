"""Push: one function for the schedule, custom EventBridge events, direct invokes, and its
own shard and hand-on invocations (see ``logic.shards``)."""

from __future__ import annotations

import time
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
from wspush.logic import envelope, strict_json
from wspush.logic.channels import History, number_envelope
from wspush.logic.envelope import UnsendableMessage
from wspush.logic.push import Deadline, Delivery, RateLimiter, fan_out
from wspush.logic.shards import (
    HAND_ON_TASK,
    SHARD_TASK,
    Coordinator,
    PushState,
    Sharding,
    hand_on_refusal,
    run_shard,
    task_request,
    without_payload,
)
from wspush.models.channel import SequencePending
from wspush.models.push import (
    DUPLICATE_IN_PROGRESS,
    InvalidPushRequest,
    PushRequest,
    parse_push_request,
)
from wspush.models.shard import Shard, ShardFailed
from wspush.observability import MetricUnit, count, logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

config = PushConfig.from_env()
dynamodb = dynamodb_client()
table = ConnectionsTable(dynamodb, config.table_name)
history: History | None = History(
    HistoryTable(dynamodb, config.history_table), config.history_retention_seconds
)
lifecycle = lifecycle_events(config.lifecycle, dynamodb)
connections_api = ConnectionsApi(config.connections_endpoint, credentials=session.get_credentials())
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
# Created on first use: a push that fits in one invocation never needs it.
_invoker: ShardInvoker | None = None

initialised()


SCHEDULED_DETAIL_TYPE = "Scheduled Event"


class ShardsFailed(RuntimeError):
    """Some shards of a push failed after their retries; the push is retried as a whole."""


def invoker() -> ShardInvoker:
    global _invoker
    if _invoker is None:
        client = session.client("lambda", config=shard_client_config(config.shard_parallelism))
        _invoker = ShardInvoker(client, config.function_name)
    return _invoker


def request_from_event(event: Any) -> tuple[PushRequest, str | None]:
    """Read the three shapes: a bare scheduled event, an EventBridge event whose
    ``detail`` is a push request, or a push request itself (direct invoke, rule input).
    Also returns the EventBridge event id, the message id when the request has none."""
    if isinstance(event, dict) and "detail-type" in event:
        event_id = event.get("id") if isinstance(event.get("id"), str) else None
        if event["detail-type"] == SCHEDULED_DETAIL_TYPE and event.get("source") == "aws.events":
            body = {"broadcast": True, "payload": config.scheduled_message, "type": "scheduled"}
            return parse_push_request(body), event_id
        return parse_push_request(_strict(event.get("detail"))), event_id
    return parse_push_request(_strict(event)), None


def _strict(body: Any) -> Any:
    """A push request as Lambda parsed it, held to the rules of ``strict_json`` (nesting,
    finite numbers, Unicode text), so it can be encoded and sent on."""
    try:
        strict_json.check(body)
    except strict_json.InvalidJson as error:
        raise InvalidPushRequest(f"malformed_json: {error}") from None
    return body


def _delivery(request: PushRequest, body: bytes, rate: float) -> Delivery:
    return Delivery(
        body=body,
        sender=connections_api,
        store=table,
        executor=executor,
        concurrency=config.concurrency,
        max_attempts=config.max_attempts,
        limiter=RateLimiter(rate),
        exclude_connection_id=request.exclude_connection_id,
        connecting_window_seconds=config.connecting_window_seconds,
        lifecycle=lifecycle,
    )


def _deadline(context: LambdaContext, not_after_ms: float | None = None) -> Deadline:
    """Stop starting posts a margin before the function's end (or the coordinator's)."""
    margin = config.deadline_margin_seconds
    remaining = context.get_remaining_time_in_millis() / 1000
    if not_after_ms is not None:
        remaining = min(remaining, not_after_ms / 1000 - time.time())
    end = time.monotonic() + remaining
    return Deadline(soft=end - margin, hard=end - margin / 2)


def _run_shard_task(task: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = task_request(task["request"], task["envelope"])
        body = envelope.encode(task["envelope"])
        shard = Shard.from_dict(task["shard"])
        rate = float(task["ratePerSecond"])
        if rate <= 0:
            raise ValueError(f"ratePerSecond must be positive, got {rate}")
        deadline = _deadline(context, float(task["deadlineMs"]))
        shard_sharding = Sharding(
            shard_size=int(task["maxTargets"]),
            parallelism=sharding.parallelism,
            rate_limit=sharding.rate_limit,
            margin_seconds=sharding.margin_seconds,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidPushRequest(f"malformed shard task: {error!r}") from None
    logger.append_keys(messageId=task["envelope"].get("id"), shard=shard.describe())
    result = run_shard(shard, table, _delivery(request, body, rate), deadline, shard_sharding)
    count("PushShardTargeted", result.report.targeted)
    logger.info(
        "shard delivered",
        extra={**result.report.as_dict(), "handedOn": result.remainder is not None},
    )
    return result.as_dict()


class _InvokerProxy:
    """Defers creating the Lambda client until a push needs a second invocation."""

    def run(self, task: dict[str, Any]) -> dict[str, Any]:
        return invoker().run(task)

    def hand_on(self, task: dict[str, Any]) -> None:
        invoker().hand_on(task)


invoker_proxy = _InvokerProxy()


def _coordinate(event: Any, context: LambdaContext) -> PushState:
    coordinator = Coordinator(
        table, invoker_proxy, shard_pool, sharding, context.get_remaining_time_in_millis
    )
    if isinstance(event, dict) and HAND_ON_TASK in event:
        state = PushState.from_task(event)
        request = state.push_request()
        logger.append_keys(audience=request.audience.describe(), messageId=state.envelope["id"])
        refusal = hand_on_refusal(state, sharding, time.time())
        if refusal is not None:
            # Loud: an error line, a metric, every open shard failed, and this invocation
            # fails, so its event (exactly what was left of the push) is dead-lettered.
            count("PushAbandoned")
            logger.error("push abandoned", extra={"reason": refusal, **state.summary()})
            state.abandon(refusal)
            return state
        return coordinator.resume(state)
    request, event_id = request_from_event(event)
    # Numbered in its channel and kept here, once per push: shards and hand-ons carry
    # this envelope verbatim, and a retried push (same id) gets its first one back.
    message = number_envelope(
        request,
        envelope.for_push(request, event_id or context.aws_request_id),
        history,
        int(time.time()),
    )
    body = envelope.encode(message)
    logger.append_keys(audience=request.audience.describe(), messageId=message["id"])
    state = PushState(request=without_payload(request.body), envelope=message)
    delivery = _delivery(request, body, sharding.rate_limit)
    deadline = _deadline(context)
    if request.audience.connection_id is not None:
        targets = table.connection_targets(request.audience.connection_id)
        result = fan_out(targets, delivery, deadline)
        state.report.add(result.report)
        return state
    return coordinator.start(state, request.audience, delivery, deadline)


def _report(state: PushState) -> dict[str, Any]:
    """The one line (and the metrics) of a push: when it is done, or when a shard failed."""
    summary = state.summary()
    for name in ("targeted", "sent", "gone", "failed", "throttled"):
        count(f"Push{name.capitalize()}", summary[name])
    count("PushShards", state.shards)
    count("PushShardsFailed", len(state.shards_failed))
    count("PushShardsThrottled", state.shards_throttled)
    duration_ms = (time.time() - state.started_at) * 1000
    metrics.add_metric(name="PushDuration", unit=MetricUnit.Milliseconds, value=duration_ms)
    extra = {
        **summary,
        "durationMs": round(duration_ms, 1),
        "failedConnectionIds": state.report.failed_connection_ids[:50],
    }
    if state.shards_failed:
        logger.error("push incomplete", extra={**extra, "failedShards": state.shards_failed[:20]})
    else:
        logger.info("push delivered", extra=extra)
    return summary


# clear_state: a warm container serves coordinators and shards in turn; keys one appends
# (audience, messageId, shard) must not leak into the next one's lines.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        if isinstance(event, dict) and SHARD_TASK in event:
            return _run_shard_task(event[SHARD_TASK], context)
        state = _coordinate(event, context)
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
    if not state.done and not state.shards_failed:
        state.hand_ons += 1
        try:
            invoker_proxy.hand_on(state.as_task())
        except ShardFailed as error:
            state.shards_failed.append(f"hand-on: {error}")
        else:
            count("PushHandOns")
            logger.info("push handed on", extra=state.summary())
            return {**state.summary(), "handedOn": True}
    summary = _report(state)
    if state.shards_failed:
        raise ShardsFailed(f"{len(state.shards_failed)} shard(s) failed: {summary}")
    return summary
