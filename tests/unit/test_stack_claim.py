"""What ``wspush run`` claims before anything slow starts: every port (a busy one refused at
once, naming the flag that changes it; 0 picks a free one) and its work directory (a second
stack there refuses while the first is alive and touches none of its files)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from wspush_local.cli import main as cli
from wspush_local.stack.claim import (
    LOCK_FILE,
    Ports,
    Refused,
    WorkDirLock,
    claim,
    claim_ports,
    preflight,
)

ROOT = Path(__file__).resolve().parents[2]
# Long enough for a loaded machine to import Python; a hang would be minutes.
NO_HANG_SECONDS = 30
ALL_PORTS_FREE = ("--port", "0", "--emulator-port", "0", "--publish-port", "0")


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


@pytest.mark.parametrize(
    ("flag", "role", "position"),
    [
        ("--port", "WebSocket gateway", 0),
        ("--emulator-port", "AWS emulator", 1),
        ("--publish-port", "publish API", 2),
    ],
)
def test_a_busy_port_is_refused_naming_the_port_and_its_flag(busy_port, flag, role, position):
    ports = [0, 0, 0]
    ports[position] = busy_port
    with pytest.raises(Refused) as refused:
        claim_ports(*ports)
    message = str(refused.value)
    assert f"port {busy_port} ({role}) is already in use" in message
    assert f"choose another with {flag} PORT" in message
    assert "\n" not in message


def test_port_zero_picks_three_free_ports_and_serves_them():
    ports = claim_ports(0, 0, 0)
    try:
        numbers = [Ports.number(s) for s in (ports.gateway, ports.emulator, ports.publish)]
        assert all(n > 0 for n in numbers)
        assert len(set(numbers)) == 3
        # listening already: a client reaches the port the stack will advertise
        with socket.create_connection(("127.0.0.1", numbers[0]), timeout=5):
            pass
    finally:
        ports.close()


def test_the_same_port_twice_is_refused():
    ports = claim_ports(0, 0, 0)
    taken = Ports.number(ports.gateway)
    ports.close()
    first = claim_ports(taken, 0, 0)
    try:
        with pytest.raises(Refused, match=f"port {taken} .*--publish-port"):
            claim_ports(0, 0, taken)
    finally:
        first.close()


def test_a_port_number_out_of_range_is_refused_in_one_line():
    with pytest.raises(Refused, match=r"--port 70000 is not a port number \(0-65535\)"):
        claim_ports(70000, 0, 0)


def test_a_second_stack_in_the_same_directory_is_refused_with_the_first_ones_pid(tmp_path):
    first = WorkDirLock.acquire(tmp_path)
    try:
        with pytest.raises(Refused) as refused:
            claim(tmp_path, 0, 0, 0)
        assert f"already running from {tmp_path} (pid {os.getpid()})" in str(refused.value)
        assert "--work-dir" in str(refused.value)
    finally:
        first.release()
    # Once the first has stopped, the directory is free again.
    claim(tmp_path, 0, 0, 0).release()


def test_a_lock_left_by_a_process_that_ended_is_taken_over(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; "
            "from wspush_local.stack.claim import WorkDirLock; "
            f"lock = WorkDirLock.acquire(Path({str(tmp_path)!r})); print('held', flush=True); "
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        # While it is alive, its pid is named
        refusal = preflight([], tmp_path)
        assert refusal is not None
        assert f"(pid {holder.pid})" in refusal
    finally:
        holder.kill()
        holder.wait()
    # It was killed, its pid still in the file: the lock is taken over, and said so
    assert (tmp_path / LOCK_FILE).read_text().strip() == str(holder.pid)
    taken = claim(tmp_path, 0, 0, 0)
    try:
        assert taken.lock.recovered_pid == holder.pid
        assert (tmp_path / LOCK_FILE).read_text().strip() == str(os.getpid())
    finally:
        taken.release()


def test_run_refuses_a_second_stack_and_leaves_the_first_ones_files_alone(tmp_path, capsys):
    # Given a running stack's files
    stack_file = tmp_path / "stack.json"
    stack_file.write_text(json.dumps({"websocket_url": "ws://127.0.0.1:1/local"}))
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "push").write_text("unpacked")
    (tmp_path / "terraform.tfstate").write_text("{}")
    first = WorkDirLock.acquire(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    try:
        # When a second run starts in the same directory
        code = cli.main(["run", "--work-dir", str(tmp_path), *ALL_PORTS_FREE])
        after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    finally:
        first.release()
    # Then it says so in one line, fails, and every file is as it was
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("wspush: a local stack is already running")
    assert len(err.splitlines()) == 1
    assert after == before


def test_run_with_a_busy_port_fails_at_once_in_one_line(busy_port, tmp_path):
    command = [sys.executable, "-m", "wspush_local.cli.command", "run", "--port", str(busy_port)]
    completed = subprocess.run(
        [*command, "--work-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=NO_HANG_SECONDS,
    )
    assert completed.returncode == 1
    assert completed.stdout == ""
    assert completed.stderr.splitlines() == [
        f"wspush: port {busy_port} (WebSocket gateway) is already in use: "
        "choose another with --port PORT (--port 0 picks a free one)"
    ]
    assert not (tmp_path / "stack.json").exists()


def test_the_full_command_refuses_a_busy_port_too(busy_port, tmp_path, capsys):
    # (the check again after the imports, for a port taken in between)
    code = cli.main(
        ["run", "--work-dir", str(tmp_path), *ALL_PORTS_FREE, "--emulator-port", str(busy_port)]
    )
    assert code == 1
    assert f"port {busy_port} (AWS emulator)" in capsys.readouterr().err
    # and the lock is let go: the next run may start
    claim(tmp_path, 0, 0, 0).release()


def test_check_only_says_whether_run_would_start(busy_port, tmp_path, capsys):
    assert cli.main(["run", "--check-only", "--work-dir", str(tmp_path), *ALL_PORTS_FREE]) == 0
    busy = ["--port", str(busy_port), "--work-dir", str(tmp_path)]
    assert cli.main(["run", "--check-only", *busy]) == 1
    assert "--port PORT" in capsys.readouterr().err
