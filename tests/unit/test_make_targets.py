"""The make targets people pipe and script: they print only what the command prints (``make
push | jq`` works), a closed pipe ends the CLI quietly, ``make connect`` with no stack says
so in one line, and ``make run`` checks its ports before it builds."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Targets' own prerequisites (the virtualenv, wscat) are set up by then: never remade here.
MAKE = ["make", "--no-print-directory", "-o", ".venv/.installed", "-o", "node_modules/.installed"]
TIMEOUT = 60


def _make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS")}
    return subprocess.run(
        [*MAKE, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**environment, **(env or {})},
    )


@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    """A BIN whose wspush prints one JSON object naming its subcommand."""
    script = tmp_path / "wspush"
    script.write_text('#!/bin/sh\nprintf \'{"sent": 1, "command": "%s"}\\n\' "$1"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return tmp_path


@pytest.mark.parametrize("target", ["push", "token", "listen"])
def test_a_targets_stdout_is_only_the_commands_output(fake_bin, target):
    completed = _make(target, f"BIN={fake_bin}", "ENTITY=alice", 'MESSAGE={"a": 1}')
    assert completed.returncode == 0, completed.stderr
    printed = json.loads(completed.stdout)  # what jq would read: nothing else
    assert printed["sent"] == 1
    assert printed["command"] == target


def test_make_push_pipes_into_a_json_reader(fake_bin):
    completed = subprocess.run(
        f"{' '.join(MAKE)} push BIN={fake_bin} ENTITY=alice | {sys.executable} -m json.tool",
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert completed.returncode == 0, completed.stderr
    assert '"sent": 1' in completed.stdout


def test_make_connect_with_no_stack_says_so_in_one_line(tmp_path):
    completed = _make("connect", env={"WSPUSH_WORK_DIR": str(tmp_path)})
    assert completed.returncode != 0
    assert completed.stdout == ""
    ours = [line for line in completed.stderr.splitlines() if line.startswith("wspush:")]
    assert ours == [
        f"wspush: no local stack is running ({tmp_path}/stack.json not found): "
        "start it with `make run`"
    ]
    assert "Traceback" not in completed.stderr
    assert "wscat" not in completed.stderr  # never started with a broken URL


def test_make_run_checks_its_ports_before_it_builds():
    completed = _make("-n", "run")
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    check = next(i for i, line in enumerate(lines) if "run --check-only" in line)
    build = next(i for i, line in enumerate(lines) if "build.sh" in line)
    assert check < build


def test_make_run_check_refuses_a_busy_port(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        completed = _make("run-check", f"RUN_ARGS=--port {port} --work-dir {tmp_path}")
    assert completed.returncode != 0
    assert f"wspush: port {port} (WebSocket gateway) is already in use" in completed.stderr


def test_a_closed_stdout_ends_the_cli_quietly(tmp_path):
    info = {
        "websocket_url": "ws://127.0.0.1:1/local",
        "publish_url": "http://127.0.0.1:2/local/publish",
        "emulator_url": "http://127.0.0.1:3",
        "region": "us-east-1",
        "outputs": {},
    }
    (tmp_path / "stack.json").write_text(json.dumps(info))
    reader = subprocess.Popen(
        [sys.executable, "-m", "wspush_local.cli.command", "url", "--work-dir", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.close()  # the reader went away before anything was printed
    errors = reader.stderr.read().decode()
    assert reader.wait(timeout=TIMEOUT) == 0
    assert errors == ""
