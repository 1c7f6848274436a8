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

    def print_line(frame: dict[str, Any]) -> None:
        out.write(json.dumps(frame, separators=(",", ":")) + "\n")
        out.flush()

    async def token() -> str:
        return await asyncio.to_thread(get_token)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(Listener(options, token, print_line, status).run())
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
    status("stopped")
    return 0
