"""``wspush listen``: print every push an entity receives as one JSON line.

It behaves like the JavaScript client: a fresh token on every (re)connect, sent as the
``["wspush", token]`` subprotocol; reconnects with capped exponential backoff and full
jitter; pings before API Gateway's 10-minute idle timeout and treats a connection that
does not answer as dead; re-subscribes its topics after a reconnect; asks the server to
``resume`` each channel from its last ``{seq, epoch}``; prints each envelope ``id`` once.
Status lines go to stderr, so stdout is only pushes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TextIO

import aiohttp

# Close code of a connection that stopped answering pings (the JavaScript client's too).
HEARTBEAT_TIMEOUT_CODE = 4000


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


def backoff_delay(
    attempt: int, minimum: float, maximum: float, rand: Callable[[], float] = random.random
) -> float:
    """Full jitter: uniformly random below ``min(maximum, minimum * 2**attempt)``."""
    return rand() * min(maximum, minimum * 2 ** min(attempt, 30))


class _Seen:
    """The most recent envelope ids, to print each push once."""

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
        out: TextIO,
        status: Callable[[str], None],
    ) -> None:
        self.options = options
        self.get_token = get_token
        self.out = out
        self.status = status
        self.seen = _Seen(options.dedupe_window)
        self.positions: dict[str, tuple[int, Any]] = {}
        self.connections = 0

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
            if self.seen.first_time(frame["id"]):
                channel, seq = frame.get("channel"), frame.get("seq")
                # A connection's own channel ends with it: the next connection may not
                # resume it, so it is not remembered.
                resumable = isinstance(channel, str) and not channel.startswith("connection:")
                if resumable and isinstance(seq, int):
                    known = self.positions.get(channel)
                    if known is None or known[1] != frame.get("epoch") or seq > known[0]:
                        self.positions[channel] = (seq, frame.get("epoch"))
                self.out.write(json.dumps(frame, separators=(",", ":")) + "\n")
                self.out.flush()
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


def listen(
    options: ListenOptions,
    get_token: Callable[[], str],
    out: TextIO,
    err: TextIO,
) -> int:
    """Run until Ctrl-C (or SIGTERM); close the connection cleanly and return 0."""

    def status(line: str) -> None:
        err.write(f"wspush listen: {line}\n")
        err.flush()

    async def token() -> str:
        return await asyncio.to_thread(get_token)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(Listener(options, token, out, status).run())
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
    status("stopped")
    return 0
