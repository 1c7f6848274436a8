"""The README's quickstart commands, run as written against the session's local stack
(WSPUSH_WORK_DIR points the make targets at it)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess

import pytest

from tests.e2e.conftest import ROOT
from tests.snippets import snippet
from wspush.logic.tokens import verify

pytestmark = pytest.mark.e2e


def _commands() -> list[list[str]]:
    lines = snippet(ROOT / "README.md", "quickstart-commands").splitlines()
    return [shlex.split(line, comments=True) for line in lines if line.strip()]


def test_the_quickstart_commands_run_against_the_stack(stack):
    env = {**os.environ, "WSPUSH_WORK_DIR": str(stack.work_dir)}
    commands = {command[1]: command for command in _commands()}
    assert sorted(commands) == ["connect", "listen", "push", "token"]

    def run(command: list[str], prefix: str = "") -> subprocess.CompletedProcess:
        line = prefix + shlex.join(["make", "-s", *command[1:]])
        return subprocess.run(
            ["bash", "-c", line], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )

    # make token: a token the stack's secret signed, for alice, granting user:alice/*
    token = run(commands["token"])
    assert token.returncode == 0, token.stderr
    claims = verify(token.stdout.strip(), [stack.secret])
    assert claims["sub"] == "alice" and claims["topics"] == ["user:alice/*"]
    # make connect: wscat connects and prints what arrives, here the scheduled broadcasts
    connect = subprocess.Popen(
        ["make", "-s", *commands["connect"][1:]],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert connect.stdout is not None
        received = next(line for line in connect.stdout if '"type":"scheduled"' in line)
    finally:
        os.killpg(connect.pid, signal.SIGTERM)
        connect.wait(timeout=30)
    assert '"channel":"broadcast"' in received
    # make push: the push function's report
    push = run(commands["push"])
    assert push.returncode == 0, push.stderr
    report = json.loads(push.stdout.strip().splitlines()[-1])
    assert report["targeted"] == report["sent"] + report["gone"] + report["failed"]
    # make listen: scheduled pushes (every 3 s here) as JSON lines, until interrupted
    listen = run(commands["listen"], prefix="timeout -s INT 10 ")
    pushes = [json.loads(line) for line in listen.stdout.splitlines() if line.strip()]
    assert pushes and all("id" in p and "type" in p for p in pushes), listen.stderr
