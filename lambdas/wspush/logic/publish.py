"""The publish API's rules: read one push request or a batch of them, validate every
message with the push request parser, then hand each one to the push function.

A message whose audience is small (one connection, or an entity or topic with at most
``sync_max_targets`` rows) is pushed while the caller waits, and its delivery report is
the answer. A larger audience, or a broadcast, is pushed in the background: the answer is
202 with the message id, which is also the envelope id every client receives.

A message id is idempotent per channel: a message sent again with the same id, audience
and content is a retry; the same id with other content on the same audience is refused
with 409 ``id_conflict`` before anything is handed off (and, if two such requests race,
by the push function, which numbers each id once per channel).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any, Protocol

from wspush.logic import envelope, strict_json
from wspush.logic.audience import topic_partitions
from wspush.logic.channels import refuse_oversize
from wspush.models.errors import StoreError
from wspush.models.publish import (
    FieldError,
    HandOffFailed,
    MessageResult,
    PublishOutcome,
    PublishRejected,
    Status,
)
from wspush.models.push import Audience, InvalidPushRequest, PushRequest, parse_push_request

MAX_BATCH = 10
# Ten messages of API Gateway's 128 KB each: no valid request is larger.
MAX_REQUEST_BYTES = MAX_BATCH * envelope.MAX_MESSAGE_BYTES


class AudienceCounter(Protocol):
    def count_rows(self, partition_key: str, limit: int) -> int: ...


class ClaimReader(Protocol):
    def claimed_fingerprint(self, push_id: str, channel: str, now: int) -> str | None: ...


class PushInvoker(Protocol):
    def deliver(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """Push while waiting; the report, or None if the push still runs at the deadline
        (or runs in another attempt, one that reused the same id and content)."""
        ...

    def enqueue(self, request: dict[str, Any]) -> None:
        """Push in the background."""
        ...


@dataclass(frozen=True)
class Message:
    """One validated message: the push request handed on, with its id always set."""

    request: PushRequest
    body: dict[str, Any]
    # Whether the caller named the id (only such an id can have been used before).
    caller_id: bool = True

    @property
    def message_id(self) -> str:
        return str(self.body["id"])

    @property
    def channel(self) -> str:
        return self.request.audience.describe()


def _decode(raw: bytes) -> Any:
    if len(raw) > MAX_REQUEST_BYTES:
        raise PublishRejected(
            413,
            "too_large",
            f"the request is {len(raw)} bytes, over the {MAX_REQUEST_BYTES}-byte limit",
        )
    if not raw.strip():
        raise PublishRejected(400, "malformed_json", "the request body is empty")
    try:
        return strict_json.loads(raw)
    except strict_json.InvalidJson as error:
        raise PublishRejected(400, "malformed_json", f"the body is not JSON: {error}") from None


def _items(document: Any) -> tuple[list[Any], bool]:
    """The messages of a request, and whether it was the batch form."""
    if not isinstance(document, dict) or "messages" not in document:
        return [document], False
    extra = sorted(set(document) - {"messages"})
    if extra:
        raise PublishRejected(
            400, "invalid_request", f'a batch has only "messages"; unexpected {extra}'
        )
    messages = document["messages"]
    if not isinstance(messages, list) or not messages:
        raise PublishRejected(
            400, "invalid_request", '"messages" must be a non-empty list of push requests'
        )
    if len(messages) > MAX_BATCH:
        raise PublishRejected(
            400,
            "too_many_messages",
            f"a batch holds at most {MAX_BATCH} messages; got {len(messages)}",
        )
    return messages, True


def _message(item: Any, new_id: Callable[[], str]) -> Message:
    request = parse_push_request(item)
    body = dict(item)
    body["id"] = request.id or new_id()
    # The envelope the clients will get, numbered in its channel, must fit one WebSocket
    # message: the push function refuses it otherwise, after this request was accepted.
    built = envelope.build(
        request.message_type, request.payload, message_id=body["id"], sender=request.sender
    )
    refuse_oversize(built, request.audience.describe())
    return Message(request, body, caller_id=request.id is not None)


def _id_conflict(conflicts: list[tuple[int | None, Message]]) -> PublishRejected:
    errors = [
        FieldError(
            f"the id {m.message_id!r} was already used on {m.channel} by a push with other "
            "content; a retry must repeat the request exactly, another push needs another id",
            index,
            message_id=m.message_id,
        )
        for index, m in conflicts
    ]
    summary = "; ".join(
        error.message if error.index is None else f"messages[{error.index}]: {error.message}"
        for error in errors
    )
    single = conflicts[0][0] is None
    return PublishRejected(
        409,
        "id_conflict",
        summary,
        None if single else errors,
        message_id=conflicts[0][1].message_id if single else None,
    )


def refuse_id_conflicts(
    messages: list[Message], batch: bool, claims: ClaimReader, now: int
) -> None:
    """Raise ``PublishRejected`` (409, ``id_conflict``) when a caller's id is used on the
    same channel with other content: earlier in this request, or by a push already
    claimed."""
    seen: dict[tuple[str, str], str] = {}
    conflicts: list[tuple[int | None, Message]] = []
    for index, message in enumerate(messages):
        if not message.caller_id:
            continue
        key = (message.message_id, message.channel)
        fingerprint = message.request.fingerprint()
        earlier = seen.setdefault(key, fingerprint)
        if earlier == fingerprint:
            # Unreadable: the push function checks the claim again when it numbers the push.
            with contextlib.suppress(StoreError):
                earlier = claims.claimed_fingerprint(key[0], key[1], now) or fingerprint
        if earlier != fingerprint:
            conflicts.append((index if batch else None, message))
    if conflicts:
        raise _id_conflict(conflicts)


def read_messages(
    raw: bytes, new_id: Callable[[], str] = lambda: str(uuid.uuid4())
) -> tuple[list[Message], bool]:
    """Validate a whole publish request; raise ``PublishRejected`` naming every problem.

    Nothing is sent unless every message is valid, so a caller can fix and resend the
    request without delivering any message twice.
    """
    items, batch = _items(_decode(raw))
    messages: list[Message] = []
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        where = index if batch else None
        try:
            messages.append(_message(item, new_id))
        except InvalidPushRequest as error:
            errors.append(FieldError(str(error), where))
        except envelope.PayloadTooLarge as error:
            errors.append(FieldError(f"the message is too large: {error}", where, too_large=True))
        except envelope.UnsendableMessage as error:
            errors.append(FieldError(str(error), where))
    if errors:
        too_large = all(error.too_large for error in errors)
        status, code = (413, "too_large") if too_large else (400, "invalid_request")
        summary = "; ".join(
            error.message if error.index is None else f"messages[{error.index}]: {error.message}"
            for error in errors
        )
        raise PublishRejected(status, code, summary, errors if batch else None)
    return messages, batch


def partitions_to_count(audience: Audience, sync_max_targets: int) -> list[str]:
    """The partitions whose rows decide ``is_small``: none where the audience alone does."""
    if sync_max_targets <= 0 or audience.broadcast or audience.connection_id is not None:
        return []
    if audience.entity_id is not None:
        return [audience.entity_id]
    # The topic's subscribers and its patterns' (a connection in two counts twice).
    return topic_partitions(str(audience.topic))


def is_small(audience: Audience, counts: Sequence[Future[int]], sync_max_targets: int) -> bool:
    """Whether the audience is small enough to push while the caller waits, from the row
    counts of its ``partitions_to_count`` (each counted to at most ``sync_max_targets`` + 1)."""
    if sync_max_targets <= 0 or audience.broadcast:
        return False
    if audience.connection_id is not None:
        return True
    try:
        return sum(count.result() for count in counts) <= sync_max_targets
    except StoreError:
        return False  # the background path needs no count


def hand_off(message: Message, invoker: PushInvoker, small: bool) -> MessageResult:
    """Push one message, waiting when its audience is ``small`` (``is_small``); never
    raises for an AWS failure."""
    try:
        return _hand_off(message, invoker, small)
    except HandOffFailed as error:
        if error.id_conflict:
            return MessageResult(message.message_id, Status.CONFLICT, reason=str(error))
        return MessageResult(message.message_id, Status.FAILED, reason=str(error))


def _hand_off(message: Message, invoker: PushInvoker, small: bool) -> MessageResult:
    if small:
        try:
            report = invoker.deliver(message.body)
        except HandOffFailed as error:
            if not error.throttled:
                raise
            # The push never started: run it in the background instead.
            invoker.enqueue(message.body)
            return MessageResult(message.message_id, Status.ACCEPTED)
        if report is None:
            return MessageResult(message.message_id, Status.ACCEPTED)
        return finished(message.message_id, report)
    invoker.enqueue(message.body)
    return MessageResult(message.message_id, Status.ACCEPTED)


_FINISHED = {Status.DELIVERED, Status.PARTIAL, Status.NO_RECIPIENTS, Status.FAILED}


def finished(message_id: str, report: dict[str, Any]) -> MessageResult:
    """A push that ran while the caller waited, with the status its report names (a
    report from before statuses, without one, was delivered); one handed on still runs."""
    counts = {key: value for key, value in report.items() if key not in ("status", "handedOn")}
    if report.get("handedOn"):
        return MessageResult(message_id, Status.ACCEPTED, counts)
    try:
        status = Status(report.get("status", Status.DELIVERED.value))
    except ValueError:
        status = Status.DELIVERED
    return MessageResult(message_id, status if status in _FINISHED else Status.ACCEPTED, counts)


def publish(
    raw: bytes,
    invoker: PushInvoker,
    counter: AudienceCounter,
    claims: ClaimReader,
    executor: Executor,
    sync_max_targets: int,
) -> PublishOutcome:
    """Validate the request, then hand its messages off concurrently, in order.

    Each audience's partitions are counted side by side and beside the id claims (all
    reads: one round trip instead of one per partition and one more before the hand-off);
    nothing is handed off before every claim passed. The counts are submitted first, so a
    hand-off waiting for one never waits behind itself in the executor's queue."""
    messages, batch = read_messages(raw)
    counts = [
        [
            executor.submit(counter.count_rows, partition, sync_max_targets + 1)
            for partition in partitions_to_count(message.request.audience, sync_max_targets)
        ]
        for message in messages
    ]
    refuse_id_conflicts(messages, batch, claims, int(time.time()))
    results = executor.map(
        lambda message, counted: hand_off(
            message, invoker, is_small(message.request.audience, counted, sync_max_targets)
        ),
        messages,
        counts,
    )
    return PublishOutcome(batch=batch, results=list(results))
