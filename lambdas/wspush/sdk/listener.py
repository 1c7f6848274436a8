"""Listen to a wspush WebSocket API as an async iterator of push envelopes.

It behaves like the JavaScript client: a fresh token on every (re)connect, sent as the
``["wspush", token]`` subprotocol; reconnects with capped exponential backoff and full
jitter; pings before API Gateway's 10-minute idle timeout and treats a connection that
does not answer as dead; re-subscribes its topics after a reconnect; asks the server to
``resume`` each channel from its last ``{seq, epoch}``; yields each envelope ``id`` once;
acknowledges each push that asks for a receipt (``"ack": true``) with ``{"action":"ack","id"}``.

``Listener.publish`` (and ``say``, one message on a connection of its own) publishes to a
topic over the WebSocket: the token needs a ``publish`` claim granting it. A publish not yet
answered when its connection drops is sent again, with the same ``id``, on the next one.

Needs the ``listen`` extra (``pip install 'wspush[listen]'``: aiohttp's WebSocket client).

    async for push in listen(url, get_token, topics=["news"]):
        print(push["type"], push["data"])

    published = await say(url, get_token, "room.1", {"text": "hi"})  # Published(id, seq, topic)
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp

from wspush.models.identifiers import is_valid_topic
from wspush.sdk.backoff import backoff_delay

# Close code of a connection that stopped answering pings (the JavaScript client's too).
HEARTBEAT_TIMEOUT_CODE = 4000

status_logger = logging.getLogger("wspush.sdk.listen")

# A message id: the push API's idempotency key alphabet.
_MESSAGE_ID = re.compile(r"[A-Za-z0-9_.:@+=/-]{1,128}")
# The codes of a refused subscribe: an error naming a topic with another code, while a
# publish to that topic waits, is the publish's. Errors about a frame as a whole (no topic)
# are the oldest publish's while one is in flight.
_SUBSCRIBE_CODES = frozenset(
    {"forbidden_topic", "too_many_subscriptions", "not_connected", "presence_full"}
)
# How long to wait before asking again about a publish the server is still numbering.
IN_PROGRESS_RETRY_SECONDS = 1.0
_FRAME_CODES = frozenset({"too_large", "malformed_json", "invalid_message", "invalid_topic"})


class PublishRefused(Exception):
    """A publish over the WebSocket that was not numbered. ``code`` is the server's
    (``forbidden``, ``rate_limited`` with ``retry_after``, ``rejected`` with the hook's
    ``reason``, ``id_conflict``, ``too_large``, ...) or the client's (``invalid_topic``,
    ``invalid_id``, ``timeout``, ``connection_failed``, ``closed``)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        topic: str | None = None,
        id: str | None = None,
        retry_after: float | None = None,
        reason: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.topic = topic
        self.id = id
        self.retry_after = retry_after
        self.reason = reason

    def as_dict(self) -> dict[str, Any]:
        """The error as the server's error frame spells it (``retryAfter``)."""
        fields: dict[str, Any] = {"code": self.code, "message": self.message}
        fields |= {"topic": self.topic, "id": self.id}
        fields |= {"retryAfter": self.retry_after, "reason": self.reason}
        return {"type": "error", **{k: v for k, v in fields.items() if v is not None}}


@dataclass(frozen=True)
class Published:
    """The server's answer to a publish: the message's id and its number in the topic."""

    id: str
    seq: int | None
    topic: str


def publish_frame(
    topic: str,
    data: Any,
    *,
    type: str | None = None,
    id: str | None = None,
    echo: bool = False,
) -> dict[str, Any]:
    """The ``publish`` frame; ``id`` defaults to a random UUID. Raises ``PublishRefused``
    (``invalid_topic``, ``invalid_id``, ``invalid_type``) for what the server would refuse."""
    if not is_valid_topic(topic):
        raise PublishRefused(
            "invalid_topic", f"publish needs a topic of 1-128 letters, digits and _.:/-: {topic!r}"
        )
    if id is not None and not (isinstance(id, str) and _MESSAGE_ID.fullmatch(id)):
        raise PublishRefused("invalid_id", f"id must be 1-128 letters, digits and _.:@+=/-: {id!r}")
    if type is not None and not isinstance(type, str):
        raise PublishRefused("invalid_type", "type must be a string")
    frame: dict[str, Any] = {"action": "publish", "topic": topic, "data": data}
    frame["id"] = id if id is not None else str(uuid.uuid4())
    if type is not None:
        frame["type"] = type
    if echo:
        frame["echo"] = True
    return frame


def refusal(frame: dict[str, Any], topic: str, message_id: str) -> PublishRefused:
    """The ``PublishRefused`` of an error frame that answers the publish ``message_id``."""
    reason = frame.get("reason") if isinstance(frame.get("reason"), dict) else None
    text = str(frame.get("message") or f"publish to {topic} refused")
    if reason and reason.get("message"):
        text = f"{text}: {reason['message']}"
    retry_after = frame.get("retryAfter")
    return PublishRefused(
        str(frame.get("code") or "publish_error"),
        text,
        topic=topic,
        id=message_id,
        retry_after=retry_after if isinstance(retry_after, int | float) else None,
        reason=reason,
    )


def answered_publish(frame: dict[str, Any], in_flight: dict[str, str]) -> str | None:
    """The id of the publish (of ``in_flight``: id -> topic, oldest first) an error frame
    answers: by its ``id``; else, unless it is a refused subscribe or presence request, the
    oldest on the topic it names, or, for an error about a frame as a whole, the oldest."""
    if frame.get("id") in in_flight:
        return str(frame["id"])
    code, topic, action = frame.get("code"), frame.get("topic"), frame.get("action")
    if action not in (None, "publish") or (action is None and code in _SUBSCRIBE_CODES):
        return None
    if isinstance(topic, str):
        return next((i for i, t in in_flight.items() if t == topic), None)
    return next(iter(in_flight), None) if code in _FRAME_CODES else None


@dataclass(frozen=True)
class ListenOptions:
    url: str
    topics: tuple[str, ...] = ()
    min_reconnect_delay: float = 1.0
    max_reconnect_delay: float = 30.0
    ping_interval: float = 300.0
    timeout: float = 10.0
    resume: bool = True
    dedupe_window: int = 2000
    auto_ack: bool = True
    # False: one connection only; a failure to connect raises ``ConnectionFailed``.
    reconnect: bool = True


class ConnectionFailed(Exception):
    """The connection could not be opened (and ``reconnect`` is off)."""


class _Seen:
    """The most recent envelope ids, to deliver each push once."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, envelope_id: str) -> bool:
        if envelope_id in self.ids:
            return False
        self.ids[envelope_id] = None
        while len(self.ids) > self.size:
            self.ids.popitem(last=False)
        return True


class Listener:
    def __init__(
        self,
        options: ListenOptions,
        get_token: Callable[[], Awaitable[str]],
        deliver: Callable[[dict[str, Any]], None],
        status: Callable[[str], None],
    ) -> None:
        self.options = options
        self.get_token = get_token
        self.deliver = deliver
        self.status = status
        self.seen = _Seen(options.dedupe_window)
        self.positions: dict[str, tuple[int, Any]] = {}
        self.connections = 0
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        # Publishes not answered yet, oldest first: id -> (frame, answer).
        self._pending: dict[str, tuple[dict[str, Any], asyncio.Future[Published]]] = {}
        self._outbox: list[dict[str, Any]] = []  # acks to send after the frame at hand
        self._again: set[asyncio.Task[None]] = set()  # publishes to ask about again
        self.opened = asyncio.Event()  # set while a connection is open

    async def publish(
        self,
        topic: str,
        data: Any,
        *,
        type: str | None = None,
        id: str | None = None,
        echo: bool = False,
        timeout: float = 30.0,
    ) -> Published:
        """Publish on the open connection (or the next one, while reconnecting); return the
        server's ``Published`` or raise ``PublishRefused``. Unanswered when its connection
        drops, it is sent again with the same id on the next connection."""
        frame = publish_frame(topic, data, type=type, id=id, echo=echo)
        message_id = frame["id"]
        if message_id in self._pending:
            raise PublishRefused(
                "id_in_flight", f"a publish with id {message_id} is waiting", topic=topic
            )
        answer: asyncio.Future[Published] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = (frame, answer)
        try:
            if self._ws is not None and not self._ws.closed:
                with contextlib.suppress(ConnectionError):  # sent again on the next connection
                    await self._ws.send_json(frame)
            return await asyncio.wait_for(asyncio.shield(answer), timeout)
        except TimeoutError:
            raise PublishRefused(
                "timeout",
                f"no answer to publish {message_id} within {timeout} s; "
                "publishing again with the same id is safe",
                topic=topic,
                id=message_id,
            ) from None
        finally:
            self._pending.pop(message_id, None)

    async def _publish_again(self, message_id: str) -> None:
        await asyncio.sleep(IN_PROGRESS_RETRY_SECONDS)
        pending = self._pending.get(message_id)
        if pending is not None and not pending[1].done() and self._ws is not None:
            with contextlib.suppress(ConnectionError):  # sent again on the next connection
                await self._ws.send_json(pending[0])

    def _answer(self, frame: dict[str, Any]) -> bool:
        """Settle the publish a ``published`` or error frame answers; False if none."""
        in_flight = {
            message_id: pending_frame["topic"]
            for message_id, (pending_frame, answer) in self._pending.items()
            if not answer.done()
        }
        if frame.get("type") == "published":
            message_id = frame.get("id")
            if message_id not in in_flight:
                return frame.get("id") in self._pending  # a late copy's answer
            seq = frame.get("seq")
            self._pending[message_id][1].set_result(
                Published(message_id, seq if isinstance(seq, int) else None, in_flight[message_id])
            )
            return True
        message_id = answered_publish(frame, in_flight)
        if message_id is None:
            return False
        if frame.get("code") == "in_progress":  # an earlier attempt is being numbered
            again = asyncio.create_task(self._publish_again(message_id))
            self._again.add(again)
            again.add_done_callback(self._again.discard)
            return True
        self._pending[message_id][1].set_exception(
            refusal(frame, in_flight[message_id], message_id)
        )
        return True

    async def run(self) -> None:
        """Listen until cancelled."""
        attempt = 0
        # Bounds the TCP connect and the handshake; an open connection has no time limit.
        handshake = aiohttp.ClientTimeout(
            total=None, connect=self.options.timeout, sock_connect=self.options.timeout
        )
        async with aiohttp.ClientSession(timeout=handshake) as session:
            while True:
                opened_at: float | None = None
                code: int | None = None
                try:
                    token = await self.get_token()
                    async with session.ws_connect(
                        self.options.url,
                        protocols=("wspush", token),
                        timeout=aiohttp.ClientWSTimeout(ws_close=self.options.timeout),
                        autoping=True,
                    ) as ws:
                        opened_at = time.monotonic()
                        self.connections += 1
                        self.status(f"connected to {self.options.url}")
                        self._ws = ws
                        self.opened.set()
                        try:
                            code = await self._session(ws)
                        finally:
                            self._ws = None
                            self.opened.clear()
                except (aiohttp.ClientError, OSError, TimeoutError) as error:
                    failure = f"connection failed: {error or type(error).__name__}"
                    self.status(failure)
                    if not self.options.reconnect and opened_at is None:
                        raise ConnectionFailed(failure) from error
                if not self.options.reconnect:
                    return
                if opened_at is not None and time.monotonic() - opened_at >= self.options.timeout:
                    attempt = 0
                delay = backoff_delay(
                    attempt, self.options.min_reconnect_delay, self.options.max_reconnect_delay
                )
                attempt += 1
                closed = f"closed ({code}); " if code is not None else ""
                self.status(f"{closed}reconnecting in {delay:.1f} s")
                await asyncio.sleep(delay)

    async def _session(self, ws: aiohttp.ClientWebSocketResponse) -> int | None:
        """One connection: subscribe, resume, print pushes, ping; return the close code."""
        for topic in self.options.topics:
            await ws.send_json({"action": "subscribe", "topic": topic})
        resume_pending = False
        if self.options.resume and self.positions:
            await ws.send_json(
                {
                    "action": "resume",
                    "since": {channel: seq for channel, (seq, _) in self.positions.items()},
                    "epochs": {channel: epoch for channel, (_, epoch) in self.positions.items()},
                }
            )
            resume_pending = True
        for frame, _ in list(self._pending.values()):  # unanswered: again, with the same id
            await ws.send_json(frame)
        last_sent = time.monotonic()
        awaiting_answer = False
        while True:
            if awaiting_answer:
                wait = self.options.timeout
            else:
                wait = max(0.0, last_sent + self.options.ping_interval - time.monotonic())
            try:
                message = await ws.receive(timeout=wait)
            except TimeoutError:
                if awaiting_answer:
                    self.status("no answer to ping")
                    await ws.close(code=HEARTBEAT_TIMEOUT_CODE, message=b"no answer to ping")
                    return HEARTBEAT_TIMEOUT_CODE
                await ws.send_json({"action": "ping"})
                last_sent = time.monotonic()
                awaiting_answer = True
                continue
            if message.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.ERROR,
            ):
                return ws.close_code
            awaiting_answer = False
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            resume_pending = self._frame(message.data, resume_pending)
            while self._outbox:
                await ws.send_json(self._outbox.pop(0))
                last_sent = time.monotonic()

    def _frame(self, text: str, resume_pending: bool) -> bool:
        """Handle one text frame; return whether a resume answer is still pending."""
        try:
            frame = json.loads(text)
        except json.JSONDecodeError:
            self.status("received a frame that is not JSON")
            return resume_pending
        if not isinstance(frame, dict):
            return resume_pending
        if isinstance(frame.get("id"), str) and isinstance(frame.get("ts"), str):
            if frame.get("ack") is True and self.options.auto_ack:
                # Every copy: the first one's ack may have gone with a dropped connection.
                self._outbox.append({"action": "ack", "id": frame["id"]})
            if self.seen.first_time(frame["id"]):
                channel, seq = frame.get("channel"), frame.get("seq")
                # A connection's own channel ends with it: the next connection may not
                # resume it, so it is not remembered.
                if (
                    isinstance(channel, str)
                    and not channel.startswith("connection:")
                    and isinstance(seq, int)
                ):
                    known = self.positions.get(channel)
                    if known is None or known[1] != frame.get("epoch") or seq > known[0]:
                        self.positions[channel] = (seq, frame.get("epoch"))
                self.deliver(frame)
            return resume_pending
        kind = frame.get("type")
        if kind == "error" and frame.get("code") == "unknown_action" and resume_pending:
            self.status("the server has no resume: pushes sent while disconnected are lost")
            return False
        if kind in ("published", "error") and self._answer(frame):
            return resume_pending
        if kind == "resumed":
            return False
        if kind == "resume_gap":
            self.status(f"gap in {frame.get('channel')}: the server's history starts later")
        elif kind == "subscribed":
            self.status(f"subscribed to {frame.get('topic')}")
        elif kind == "error":
            self.status(f"error {frame.get('code')}: {frame.get('message', '')}")
        return resume_pending


def _awaited(get_token: Callable[[], str | Awaitable[str]]) -> Callable[[], Awaitable[str]]:
    """``get_token``, plain or async, as an async function."""

    async def token() -> str:
        value = get_token()
        return await value if inspect.isawaitable(value) else value

    return token


async def listen(
    url: str,
    get_token: Callable[[], str | Awaitable[str]],
    *,
    topics: Iterable[str] = (),
    on_status: Callable[[str], None] | None = None,
    ping_interval: float = 300.0,
    max_reconnect_delay: float = 30.0,
    resume: bool = True,
) -> AsyncIterator[dict[str, Any]]:
    """Yield every push envelope (``type``, ``id``, ``ts``, ``channel``, ``seq``,
    ``epoch``, ``data``) the connection receives, each id once, until the loop stops.

    ``get_token`` (plain or async) is called before every connection: mint a fresh token
    there, e.g. with ``mint_token``. Status lines (connected, subscribed, reconnecting)
    go to ``on_status``, by default the ``wspush.sdk.listen`` logger at INFO. An error
    raised by ``get_token`` ends the iteration with that error, except ``OSError`` (a
    network failure), which is retried like a failed connection.
    """

    options = ListenOptions(
        url,
        tuple(topics),
        max_reconnect_delay=max_reconnect_delay,
        ping_interval=ping_interval,
        resume=resume,
    )
    pushes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    listener = Listener(
        options, _awaited(get_token), pushes.put_nowait, on_status or status_logger.info
    )
    running = asyncio.create_task(listener.run())
    try:
        while True:
            next_push = asyncio.ensure_future(pushes.get())
            await asyncio.wait({next_push, running}, return_when=asyncio.FIRST_COMPLETED)
            if not next_push.done():
                next_push.cancel()
                running.result()  # raises what stopped the listener
            yield next_push.result()
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def say(
    url: str,
    get_token: Callable[[], str | Awaitable[str]],
    topic: str,
    data: Any,
    *,
    type: str | None = None,
    id: str | None = None,
    echo: bool = False,
    timeout: float = 10.0,
) -> Published:
    """Publish one message over a connection of its own, then close it. Returns the
    server's ``Published``; raises ``PublishRefused`` (``connection_failed`` when the
    connection is refused, e.g. a bad token; ``closed`` when it ends before the answer)."""
    frame = publish_frame(topic, data, type=type, id=id, echo=echo)  # refuse bad input first

    options = ListenOptions(url, timeout=timeout, reconnect=False)
    listener = Listener(options, _awaited(get_token), lambda push: None, status_logger.info)
    running = asyncio.create_task(listener.run())
    publishing = asyncio.create_task(
        listener.publish(topic, data, type=type, id=frame["id"], echo=echo, timeout=timeout)
    )
    try:
        await asyncio.wait({running, publishing}, return_when=asyncio.FIRST_COMPLETED)
        if publishing.done():
            return publishing.result()
        try:
            running.result()
        except ConnectionFailed as failed:
            raise PublishRefused("connection_failed", str(failed), topic=topic) from None
        raise PublishRefused(
            "closed",
            "the connection closed before the server answered",
            topic=topic,
            id=frame["id"],
        )
    finally:
        for task in (publishing, running):
            task.cancel()
            # Outcomes already told above (or replaced by the one raised).
            with contextlib.suppress(asyncio.CancelledError, PublishRefused, ConnectionFailed):
                await task
