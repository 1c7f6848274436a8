"""``wspush listen``: print every push an entity receives as one JSON line.

The listening itself is the SDK's (``wspush.sdk.listen``), the JavaScript client's
behaviour in Python. Status lines go to stderr, so stdout is only pushes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Callable
from typing import Any, TextIO

from wspush.sdk.listener import Listener, ListenOptions


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

    listening: list[asyncio.Task[None]] = []

    def print_line(frame: dict[str, Any]) -> None:
        try:
            out.write(json.dumps(frame, separators=(",", ":")) + "\n")
            out.flush()
        except BrokenPipeError:
            # The reader went away (``wspush listen | head -1``): stop listening.
            for task in listening:
                task.cancel()

    async def token() -> str:
        return await asyncio.to_thread(get_token)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(Listener(options, token, print_line, status).run())
        listening.append(task)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
    status("stopped")
    return 0
