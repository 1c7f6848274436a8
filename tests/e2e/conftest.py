"""One local stack for the whole e2e session: `wspush run` in a subprocess, a fast
schedule, its own ports and work directory, destroyed through Terraform at the end."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from wspush.logic.tokens import issue, parse_secrets
from wspush_local.gateway.demo import CHAT_ROOMS

ROOT = Path(__file__).resolve().parents[2]
SCHEDULE_SCALE = 0.05  # rate(1 minute) fires every 3 seconds
STARTUP_TIMEOUT = 240


E2E_SHARD_SIZE = 50
E2E_SNAPSHOTS = ROOT / ".wspush" / "e2e-snapshots"
# Topics with live presence on the shared stack, and their cap on members.
E2E_PRESENCE = "e2e-presence.*"
# ... and the demo's chat rooms (the chat test in Chromium keeps within the cap).
E2E_PRESENCE_TOPICS = [E2E_PRESENCE, CHAT_ROOMS]
E2E_PRESENCE_MAX_MEMBERS = 2


class LocalStack:
    """``wspush run`` in a subprocess: the root configuration, or ``example``'s."""

    def __init__(
        self, work_dir: Path, example: str | None = None, destroy_on_exit: bool = True
    ) -> None:
        self.work_dir = work_dir
        self.log_lines: list[str] = []
        command = [
            sys.executable,
            "-m",
            "wspush_local.cli",
            "run",
            # Every port picked by the system: the stack advertises the ones it got, so
            # every test here goes through them (stack.json, the functions' @connections).
            "--port",
            "0",
            "--emulator-port",
            "0",
            "--publish-port",
            "0",
            "--schedule-scale",
            str(SCHEDULE_SCALE),
            "--work-dir",
            str(work_dir),
            # Each session's stack is new, its snapshots are not: a session after one with
            # the same configuration restores the emulator instead of applying again.
            "--snapshot-dir",
            str(E2E_SNAPSHOTS),
            "--no-reload",
        ]
        if destroy_on_exit:
            command.append("--destroy-on-exit")
        if example:
            command += ["--example", example]
        else:
            # Small shards, so that the crowd tests' broadcasts run through shard invocations.
            command += ["--var", f"push_shard_size={E2E_SHARD_SIZE}"]
            command += ["--var", "push_shard_parallelism=3"]
            # Live presence on its own topics, with a cap small enough to reach.
            command += ["--var", f"presence_topic_patterns={json.dumps(E2E_PRESENCE_TOPICS)}"]
            command += ["--var", f"presence_max_members={E2E_PRESENCE_MAX_MEMBERS}"]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
        self._ready = threading.Event()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.log_lines.append(line.rstrip())
            if line.rstrip().endswith("wspush.stack ready"):
                self._ready.set()

    def wait_ready(self) -> None:
        deadline = time.time() + STARTUP_TIMEOUT
        while not self._ready.wait(0.5):
            if self.process.poll() is not None or time.time() > deadline:
                raise RuntimeError("local stack did not start:\n" + "\n".join(self.log_lines[-60:]))
        info = json.loads((self.work_dir / "stack.json").read_text())
        self.url: str = info["websocket_url"]
        self.port: int = int(urlsplit(self.url).port or 0)
        self.connections_url: str = info["connections_url"]
        self.publish_url: str = info["publish_url"]
        self.region: str = info["region"]
        self.outputs: dict[str, Any] = info["outputs"]
        session = boto3.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name=info["region"]
        )
        self.clients = {
            s: session.client(s, endpoint_url=info["emulator_url"])
            for s in ("ssm", "dynamodb", "lambda", "events", "sqs", "logs")
        }
        parameter = self.clients["ssm"].get_parameter(
            Name=self.outputs["token_secret_parameter_name"], WithDecryption=True
        )
        self.secret = parse_secrets(parameter["Parameter"]["Value"])[0]

    def stop(self) -> int:
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=180)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait()

    # Helpers the tests share ---------------------------------------------------------

    def token(
        self,
        entity: str,
        ttl: int = 600,
        now: float | None = None,
        topics: list[str] | None = None,
        publish: list[str] | None = None,
        info: dict[str, Any] | None = None,
    ) -> str:
        return issue(
            entity,
            self.secret,
            ttl_seconds=ttl,
            now=now,
            topics=topics,
            publish=publish,
            info=info,
        )

    def connect_url(
        self,
        entity: str,
        topics: list[str] | None = None,
        publish: list[str] | None = None,
        info: dict[str, Any] | None = None,
    ) -> str:
        token = self.token(entity, topics=topics, publish=publish, info=info)
        return f"{self.url}?token={token}"

    def rows(self) -> set[tuple[str, str]]:
        table = self.outputs["connections_table_name"]
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": table}
        while True:
            page = self.clients["dynamodb"].scan(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return {(i["entityId"]["S"], i["connectionId"]["S"]) for i in items}

    def push(self, request: dict[str, Any]) -> dict[str, Any]:
        response = self.clients["lambda"].invoke(
            FunctionName=self.outputs["function_names"]["push"],
            Payload=json.dumps(request).encode(),
        )
        body: dict[str, Any] = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, body
        return body


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(tmp_path_factory.mktemp("wspush-stack"))
    try:
        local.wait_ready()
        yield local
    finally:
        code = local.stop()
        log = "\n".join(local.log_lines)
        assert code == 0, log[-3000:]
        assert "terraform destroy against the emulator: done" in log, log[-3000:]


@contextlib.contextmanager
def example_stack(factory: pytest.TempPathFactory, example: str) -> Iterator[LocalStack]:
    """An example's own local stack, for a module-scoped fixture. No destroy on exit: the
    emulator's state goes with its process, and the root configuration's stack already
    proves destroy through Terraform."""
    local = LocalStack(factory.mktemp(f"wspush-{example}"), example=example, destroy_on_exit=False)
    try:
        local.wait_ready()
        yield local
    finally:
        code = local.stop()
        assert code == 0, "\n".join(local.log_lines)[-3000:]


def wait_until(condition: Any, timeout: float = 10.0, interval: float = 0.1) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())
