"""What a local stack claims before anything slow starts: its ports and its work directory.

- Ports: every one is bound (and listening) at once, before the emulator starts or
  Terraform runs, so a busy port is refused in well under a second, in one line naming the
  port and the flag that changes it. Port 0 lets the system pick a free one; the stack
  then serves on exactly the sockets bound here, so what it advertises (the banner,
  ``stack.json``, the ``@connections`` endpoint the functions call, the demo page's
  config, ``wspush url``) is the port it really serves.
- The work directory (``.wspush`` unless ``--work-dir``): an exclusive lock on its
  ``run.lock``, which records the owner's pid. A second ``wspush run`` on the same
  directory refuses while the first is alive and touches none of its files. The kernel
  drops the lock when its owner ends, however it ends, so a lock left by a killed stack is
  taken over (and said so); where the file system has no locks, the recorded pid's
  liveness decides.

Standard library only: ``wspush run`` checks all of this before importing the stack.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import IO

HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_EMULATOR_PORT = 5100
DEFAULT_PUBLISH_PORT = 8081
LOCK_FILE = "run.lock"
BACKLOG = 128


class Refused(Exception):
    """The stack cannot start: one line saying why, and what to change."""


@dataclass(frozen=True)
class PortRequest:
    role: str
    flag: str
    number: int


def bind(request: PortRequest, host: str = HOST) -> socket.socket:
    """A listening socket on ``host``:``request.number`` (0: any free port), or Refused."""
    change = f"choose another with {request.flag} PORT ({request.flag} 0 picks a free one)"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # A port left in TIME_WAIT by a stack that just stopped is free; one another
        # program listens on is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, request.number))
        sock.listen(BACKLOG)
    except OverflowError:
        sock.close()
        raise Refused(
            f"{request.flag} {request.number} is not a port number (0-65535): {change}"
        ) from None
    except OSError as error:
        sock.close()
        reason = {
            errno.EADDRINUSE: "is already in use",
            errno.EACCES: "needs privileges this user does not have",
        }.get(error.errno or 0, f"cannot be used ({error.strerror})")
        raise Refused(f"port {request.number} ({request.role}) {reason}: {change}") from None
    return sock


@dataclass
class Ports:
    """The stack's three listening sockets."""

    gateway: socket.socket
    emulator: socket.socket
    publish: socket.socket

    @staticmethod
    def number(sock: socket.socket) -> int:
        port: int = sock.getsockname()[1]
        return port

    def close(self) -> None:
        for sock in (self.gateway, self.emulator, self.publish):
            sock.close()


def claim_ports(gateway: int, emulator: int, publish: int) -> Ports:
    requests = (
        PortRequest("WebSocket gateway", "--port", gateway),
        PortRequest("AWS emulator", "--emulator-port", emulator),
        PortRequest("publish API", "--publish-port", publish),
    )
    bound: list[socket.socket] = []
    try:
        for request in requests:
            bound.append(bind(request))
    except Refused:
        for sock in bound:
            sock.close()
        raise
    return Ports(*bound)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _recorded_pid(handle: IO[str]) -> int | None:
    handle.seek(0)
    text = handle.read(32).strip()
    return int(text) if text.isdigit() else None


class WorkDirLock:
    """The exclusive right to run a stack from ``work_dir``."""

    def __init__(self, work_dir: Path, handle: IO[str], recovered_pid: int | None) -> None:
        self.work_dir = work_dir
        self._handle = handle
        # The pid a previous owner left behind when it ended without releasing.
        self.recovered_pid = recovered_pid

    @classmethod
    def acquire(cls, work_dir: Path) -> WorkDirLock:
        work_dir.mkdir(parents=True, exist_ok=True)
        # Never unlinked: a second process always locks the same file as the first.
        handle = (work_dir / LOCK_FILE).open("a+", encoding="ascii")
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                holder_alive = False
            except BlockingIOError:
                holder_alive = True
            except OSError:
                # No locks on this file system: the recorded owner decides.
                recorded = _recorded_pid(handle)
                holder_alive = recorded not in (None, os.getpid()) and _pid_alive(recorded)
            recorded = _recorded_pid(handle)
            if holder_alive:
                owner = f"pid {recorded}" if recorded else "another process"
                raise Refused(
                    f"a local stack is already running from {work_dir} ({owner}): stop it "
                    "(Ctrl-C), or run another with --work-dir DIR and other ports "
                    "(--port, --emulator-port, --publish-port)"
                )
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
        except BaseException:
            handle.close()
            raise
        return cls(work_dir, handle, recorded if recorded != os.getpid() else None)

    def release(self) -> None:
        if self._handle.closed:
            return
        with contextlib.suppress(OSError):
            self._handle.seek(0)
            self._handle.truncate()
        self._handle.close()


@dataclass
class Claim:
    lock: WorkDirLock
    ports: Ports

    def release(self) -> None:
        self.ports.close()
        self.lock.release()


def claim(work_dir: Path, gateway: int, emulator: int, publish: int) -> Claim:
    """The lock first (a second stack in the same directory is told so, whatever its
    ports), then every port."""
    lock = WorkDirLock.acquire(work_dir)
    try:
        ports = claim_ports(gateway, emulator, publish)
    except BaseException:
        lock.release()
        raise
    return Claim(lock, ports)


def preflight(argv: list[str], default_work_dir: Path) -> str | None:
    """Why ``wspush run argv`` would be refused, or None; checked and let go at once.
    Arguments it cannot read are left to the command's own parser."""
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--emulator-port", type=int, default=DEFAULT_EMULATOR_PORT)
    parser.add_argument("--publish-port", type=int, default=DEFAULT_PUBLISH_PORT)
    parser.add_argument("--work-dir")
    try:
        args, _ = parser.parse_known_args(argv)
    except argparse.ArgumentError:
        return None
    work_dir = Path(args.work_dir) if args.work_dir else default_work_dir
    try:
        claim(work_dir, args.port, args.emulator_port, args.publish_port).release()
    except Refused as refusal:
        return str(refusal)
    return None
