"""Listen to a wspush WebSocket API as an async iterator of push envelopes.

It behaves like the JavaScript client: a fresh token on every (re)connect, sent as the
``["wspush", token]`` subprotocol; reconnects with capped exponential backoff and full
jitter; pings before API Gateway's 10-minute idle timeout and treats a connection that
does not answer as dead; re-subscribes its topics after a reconnect; asks the server to
``resume`` each channel from its last ``{seq, epoch}``; yields each envelope ``id`` once.

Needs the ``listen`` extra (``pip install 'wspush[listen]'``: aiohttp's WebSocket client).

    async for push in listen(url, get_token, topics=["news"]):
        print(push["type"], push["data"])
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp

from wspush.sdk.backoff import backoff_delay

# Close code of a connection that stopped answering pings (the JavaScript client's too).
HEARTBEAT_TIMEOUT_CODE = 4000

status_logger = logging.getLogger("wspush.sdk.listen")


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
        # Envelopes with "ack": true, to acknowledge on the connection they came on.
        self.pending_acks: list[str] = []

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
                        code = await self._session(ws)
                except (aiohttp.ClientError, OSError, TimeoutError) as error:
                    self.status(f"connection failed: {error or type(error).__name__}")
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
            while self.pending_acks:
                await ws.send_json({"action": "ack", "id": self.pending_acks.pop(0)})

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
            if frame.get("ack") is True:
                # Again for a duplicate: the first ack may not have reached the server.
                self.pending_acks.append(frame["id"])
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
        if kind == "resumed":
            return False
        if kind == "resume_gap":
            self.status(f"gap in {frame.get('channel')}: the server's history starts later")
        elif kind == "subscribed":
            self.status(f"subscribed to {frame.get('topic')}")
        elif kind == "error":
            self.status(f"error {frame.get('code')}: {frame.get('message', '')}")
        return resume_pending


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

    async def token() -> str:
        value = get_token()
        return await value if inspect.isawaitable(value) else value

    options = ListenOptions(
        url,
        tuple(topics),
        max_reconnect_delay=max_reconnect_delay,
        ping_interval=ping_interval,
        resume=resume,
    )
    pushes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    listener = Listener(options, token, pushes.put_nowait, on_status or status_logger.info)
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
