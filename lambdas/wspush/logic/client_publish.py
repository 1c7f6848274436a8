"""Publishing from a client: the ``publish`` action of the message route.

``{"action":"publish","topic":T,"data":ANY,"type"?:str,"id"?:str,"echo"?:bool}`` becomes
an ordinary topic push, numbered in the topic's channel and kept in its history (so resume
replays it), delivered in the ordinary envelope plus ``"from": {"entityId": E}``, where E
is the publishing connection's entity: the server sets it, a frame naming ``from`` is
refused. The publishing connection does not get its own message unless ``echo`` is true.

The rules, in order, each answered with an error frame naming the topic: the frame's
fields (``invalid_message``, ``invalid_topic``), the grant (the token's ``publish``
patterns or the deployment's public ones, never its ``topics``: ``forbidden``), the
connection's publish bucket (``rate_limited`` with ``retryAfter``), the hook (``rejected``
with its reason, ``hook_failed``), then the push's own rules (``too_large``,
``id_conflict``). Only then is the message numbered; the reply says its ``id`` and
``seq``.

Delivery reuses the push path. The first page of the topic's subscribers (at most
``inline_max_targets``) is read once: when it is the whole audience, this function fans it
out (``logic.push.fan_out``) before replying; a larger audience is handed to the push
function, which finds the push already numbered (same channel, id and content) and
delivers that envelope, sharded like any push.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from wspush.logic import envelope
from wspush.logic.audience import merge, topic_partitions
from wspush.logic.budget import Budgets, Refused, take
from wspush.logic.channels import History, number_envelope
from wspush.logic.lifecycle import EventSink
from wspush.logic.live_presence import MEMBER_JOINED, MEMBER_LEFT
from wspush.logic.messages import INVALID_TOPIC, InboundMessage, Reply, error_reply
from wspush.logic.push import Deadline, Delivery, TargetStore, fan_out
from wspush.logic.shards import audience_shard
from wspush.logic.topics import matches
from wspush.models.channel import IdConflict, SequencePending
from wspush.models.client_publish import HookFailed
from wspush.models.connection import Target
from wspush.models.errors import StoreError
from wspush.models.events import PublishError
from wspush.models.identifiers import is_valid_topic
from wspush.models.publish import HandOffFailed
from wspush.models.push import DeliveryReport, InvalidPushRequest, PushRequest, parse_push_request
from wspush.models.shard import ItemKey, Shard
from wspush.observability import count, logger

CLIENT_PUBLISHED = "wspush.client.published"
DEFAULT_TYPE = "message"
FRAME_FIELDS = frozenset({"action", "topic", "data", "type", "id", "echo"})
# Clients read an envelope of these types as a presence change: only the server sends them.
RESERVED_TYPES = frozenset({MEMBER_JOINED, MEMBER_LEFT})
# A hook's rejection reaches the publisher; its code and message are kept short.
MAX_REASON_CODE = 64
MAX_REASON_MESSAGE = 256
# An event on the bus carries the data while its detail stays this small (EventBridge
# takes 256 KB per entry); a larger one names where the kept message is instead.
MAX_EVENT_DATA_BYTES = 64 * 1024


class Hook(Protocol):
    def call(self, request: dict[str, Any]) -> Any:
        """The hook's answer; raises ``HookFailed``."""
        ...


class HandOff(Protocol):
    def enqueue(self, request: dict[str, Any]) -> None:
        """Push in the background (the push function); raises ``HandOffFailed``."""
        ...


@dataclass(frozen=True)
class ClientPublishing:
    """Everything a client publish needs, built once per container."""

    history: History
    targets: TargetStore
    # The fan-out's settings for one push's encoded envelope and excluded connection.
    delivery: Callable[[bytes, str | None], Delivery]
    hand_off: HandOff
    inline_max_targets: int = 100
    public_patterns: tuple[str, ...] = ()
    budgets: Budgets | None = None  # the connection's publish bucket
    hook: Hook | None = None
    events: EventSink | None = None
    event_patterns: tuple[str, ...] = ()
    # When the inline fan-out stops starting posts (the function's remaining time).
    deadline: Callable[[], Deadline] = Deadline
    new_id: Callable[[], str] = lambda: str(uuid.uuid4())
    # Where the audience's partitions are read, side by side and beside the numbering.
    # No thread starts before the first publish.
    audience_reads: Executor = field(
        default_factory=lambda: ThreadPoolExecutor(4, thread_name_prefix="publish-read")
    )


@dataclass(frozen=True)
class Frame:
    topic: str
    data: Any
    message_type: str
    message_id: str | None
    echo: bool


class Refusal(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.frame.get("code"))
        self.reply = reply


def may_publish(topic: str, granted: Sequence[str], public: Sequence[str]) -> bool:
    """Whether a connection holding the ``granted`` publish patterns may publish on
    ``topic`` in a deployment whose public publish patterns are ``public``."""
    return any(matches(topic, p) for p in (*granted, *public))


def _refuse(code: str, message: str, topic: str | None, **extra: Any) -> Refusal:
    reply = error_reply(code, message, topic)
    reply.frame.update(extra)
    return Refusal(reply)


def read_frame(parsed: dict[str, Any]) -> Frame:
    """The publish frame's fields, or a ``Refusal`` naming the first problem."""
    topic = parsed.get("topic")
    named = topic if is_valid_topic(topic) else None
    if "from" in parsed:
        raise _refuse(
            "invalid_message",
            '"from" is set by the server from the connection\'s identity; leave it out',
            named,
        )
    unknown = sorted(set(parsed) - FRAME_FIELDS)
    if unknown:
        shown = ", ".join(repr(key[:32]) for key in unknown[:5])
        raise _refuse("invalid_message", f"a publish frame has no field {shown}", named)
    if named is None:
        raise _refuse("invalid_topic", INVALID_TOPIC, None)
    if "data" not in parsed:
        raise _refuse("invalid_message", 'a publish frame needs "data"', named)
    message_type = parsed.get("type", DEFAULT_TYPE)
    if not isinstance(message_type, str) or not 0 < len(message_type) <= 64:
        raise _refuse(
            "invalid_message", '"type" must be a non-empty string of at most 64 characters', named
        )
    if message_type in RESERVED_TYPES:
        raise _refuse("invalid_message", f'"type" {message_type!r} is the server\'s own', named)
    message_id = parsed.get("id")
    echo = parsed.get("echo", False)
    if not isinstance(echo, bool):
        raise _refuse("invalid_message", '"echo" must be true or false', named)
    return Frame(named, parsed["data"], message_type, message_id, echo)


def _rate_limited(refused: Refused, topic: str) -> Refusal:
    return _refuse(
        "rate_limited",
        f"this connection publishes too fast; retry in {refused.retry_after} s",
        topic,
        action="publish",
        retryAfter=refused.retry_after,
    )


def _hook_reason(answer: dict[str, Any]) -> dict[str, str]:
    code, message = answer.get("code", "rejected"), answer.get("message", "")
    if not isinstance(code, str) or not isinstance(message, str):
        raise HookFailed("the publish hook's rejection has a code or message that is not text")
    return {"code": code[:MAX_REASON_CODE], "message": message[:MAX_REASON_MESSAGE]}


def ask_hook(hook: Hook, frame: Frame, message_id: str, who: InboundMessage) -> Any:
    """The data to publish, as the hook allows, replaces or rejects it (``Refusal``)."""
    request = {
        "topic": frame.topic,
        "type": frame.message_type,
        "data": frame.data,
        "id": message_id,
        "from": {"entityId": who.entity_id},
        "connectionId": who.connection_id,
    }
    try:
        answer = hook.call(request)
        if answer is None:
            return frame.data
        if not isinstance(answer, dict) or answer.get("action", "allow") not in (
            "allow",
            "reject",
            "replace",
        ):
            raise HookFailed('the publish hook answered neither "allow", "reject" nor "replace"')
        if answer.get("action") == "reject":
            reason = _hook_reason(answer)
            count("ClientPublishRejected")
            raise _refuse(
                "rejected",
                f"the publish hook rejected the message: {reason['code']}",
                frame.topic,
                id=message_id,
                reason=reason,
            )
        if answer.get("action") == "replace":
            if "data" not in answer:
                raise HookFailed('the publish hook answered "replace" without "data"')
            return answer["data"]
        return frame.data
    except HookFailed as error:
        count("ClientPublishHookFailed")
        logger.warning("publish hook failed", extra={"reason": str(error)})
        raise _refuse(
            "hook_failed", f"{error}; nothing was published", frame.topic, id=message_id
        ) from None


def push_body(frame: Frame, data: Any, message_id: str, who: InboundMessage) -> dict[str, Any]:
    """The push request a client publish becomes."""
    body: dict[str, Any] = {
        "topic": frame.topic,
        "type": frame.message_type,
        "id": message_id,
        "from": {"entityId": who.entity_id},
        "payload": data,
    }
    if not frame.echo:
        body["excludeConnectionId"] = who.connection_id
    return body


def _number(request: PushRequest, services: ClientPublishing, now: int) -> dict[str, Any]:
    topic, message_id = str(request.audience.topic), str(request.id)
    try:
        return number_envelope(
            request, envelope.for_push(request, message_id), services.history, now
        )
    except envelope.PayloadTooLarge as error:
        raise _refuse("too_large", f"the message is too large: {error}", topic) from None
    except envelope.UnsendableMessage as error:
        raise _refuse("invalid_message", str(error), topic) from None
    except IdConflict:
        raise _refuse(
            "id_conflict",
            f"the id {message_id!r} was already used on this topic by a message with other "
            "content; a retry must repeat the frame exactly, another message needs another id",
            topic,
            id=message_id,
        ) from None
    except SequencePending:
        raise _refuse(
            "in_progress",
            "a publish with this id is being numbered right now; retry in a second",
            topic,
            id=message_id,
        ) from None
    except StoreError as error:
        logger.warning("client publish not numbered", extra={"reason": str(error)})
        raise _refuse(
            "publish_failed",
            "the message could not be stored; retry with the same id",
            topic,
            id=message_id,
        ) from None


FirstPages = list[Future[tuple[list[Target], ItemKey | None]]]


def read_first_pages(request: PushRequest, services: ClientPublishing, now: int) -> FirstPages:
    """Start reading the first page (at most ``inline_max_targets``) of each partition the
    audience is in, side by side: a topic's subscribers are in its own partition and its
    patterns' (``room.*``). Nothing here waits for the push's number, so they run beside
    it; a connection that subscribes in between gets the push by resuming."""
    audience, limit = request.audience, services.inline_max_targets
    shards = (
        [Shard(partition=p) for p in topic_partitions(audience.topic)]
        if audience.topic is not None
        else [audience_shard(audience)]
    )
    read = services.targets.target_page
    return [services.audience_reads.submit(read, shard, limit, now) for shard in shards]


def deliver(
    request: PushRequest, numbered: dict[str, Any], services: ClientPublishing, reads: FirstPages
) -> DeliveryReport | None:
    """Fan a small audience out here; hand a larger one (or what is left when this
    function runs out of time) to the push function. The report, or None if handed on.
    Every partition's first page (``read_first_pages``) is merged, each connection kept
    once; any partition over the limit hands on."""
    body = envelope.encode(numbered)
    limit = services.inline_max_targets
    pages = [read.result() for read in reads]
    first_page = merge(page for page, _ in pages)
    if all(next_key is None for _, next_key in pages) and len(first_page) <= limit:
        delivery = services.delivery(body, request.exclude_connection_id)
        result = fan_out(first_page, delivery, services.deadline())
        if result.finished:
            return result.report
        # Out of time: the push function delivers the same envelope to everyone; a
        # connection that already has it gets it twice, with the same id and seq.
    services.hand_off.enqueue(request.body)
    return None


def _announce(services: ClientPublishing, numbered: dict[str, Any], who: InboundMessage) -> None:
    """The opt-in ``wspush.client.published`` event; a failure is logged, never raised."""
    topic = numbered["channel"].removeprefix("topic:")
    if services.events is None or not any(matches(topic, p) for p in services.event_patterns):
        return
    detail: dict[str, Any] = {
        "topic": topic,
        "id": numbered["id"],
        "seq": numbered.get("seq"),
        "epoch": numbered.get("epoch"),
        "from": numbered["from"],
        "connectionId": who.connection_id,
        "type": numbered["type"],
    }
    size = len(envelope.encode(numbered["data"]))
    if size <= MAX_EVENT_DATA_BYTES:
        detail["data"] = numbered["data"]
    else:
        # The kept envelope is in the topic's history, under its channel and seq.
        detail["dataOmitted"] = {"bytes": size, "channel": numbered["channel"]}
    try:
        services.events.publish(CLIENT_PUBLISHED, detail)
    except PublishError as error:
        count("ClientPublishEventsFailed")
        logger.warning("client published event not sent", extra={"reason": str(error)})


def client_publish(
    parsed: dict[str, Any], who: InboundMessage, services: ClientPublishing, now: float
) -> Reply:
    """Answer one publish frame (already read by the strict reader, within the frame
    limit). Never raises for client input."""
    try:
        return _publish(parsed, who, services, now)
    except Refusal as refusal:
        return refusal.reply


def _publish(
    parsed: dict[str, Any], who: InboundMessage, services: ClientPublishing, now: float
) -> Reply:
    frame = read_frame(parsed)
    if who.entity_id is None or not may_publish(
        frame.topic, who.publish_patterns, services.public_patterns
    ):
        raise _refuse(
            "forbidden", f"this connection may not publish on topic {frame.topic!r}", frame.topic
        )
    message_id = frame.message_id if frame.message_id is not None else services.new_id()
    try:
        request = parse_push_request(push_body(frame, frame.data, message_id, who))
    except InvalidPushRequest as error:  # the id: the only field left unchecked
        raise _refuse("invalid_message", str(error), frame.topic) from None
    if services.budgets is not None:
        taken = take(services.budgets, who.connection_id, who.entity_id, now)
        if isinstance(taken, Refused):
            raise _rate_limited(taken, frame.topic)
        if taken.gone:  # no row, no bucket: a closing connection publishes nothing
            raise _refuse("not_connected", "the connection is closing", frame.topic)
    if services.hook is not None:
        data = ask_hook(services.hook, frame, message_id, who)
        request = parse_push_request(push_body(frame, data, message_id, who))
    reads = read_first_pages(request, services, int(now))
    numbered = _number(request, services, int(now))
    try:
        report = deliver(request, numbered, services, reads)
    except (HandOffFailed, StoreError) as error:
        logger.warning("client publish not delivered", extra={"reason": str(error)})
        raise _refuse(
            "publish_failed",
            "the message is kept but could not be delivered; retry with the same id",
            frame.topic,
            id=message_id,
            seq=numbered.get("seq"),
        ) from None
    extra = {"topic": frame.topic, "messageId": message_id, "seq": numbered.get("seq")}
    if report is None:
        count("ClientPublishHandedOff")
        logger.info("client publish handed to the push function", extra=extra)
    else:
        logger.info("client publish delivered", extra={**extra, **report.as_dict()})
    _announce(services, numbered, who)
    return Reply(
        {"type": "published", "topic": frame.topic, "id": message_id, "seq": numbered.get("seq")}
    )
