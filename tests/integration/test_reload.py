"""Reload on save: a change to a function's source rebuilds its zip, the next invocation
runs the new code, and a WebSocket connection open through the gateway stays open."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from wspush_local.gateway.deployment import ApiDeployment
from wspush_local.gateway.websocket import Gateway, Limits
from wspush_local.runtime.service import FunctionSpec, LocalLambda, environment_for_workers
from wspush_local.stack.reload import Watcher

# The fixture project's build: compile (a syntax error fails it, as package.py would),
# then zip the sources into dist/fn.zip.
BUILD = """
import py_compile, sys, zipfile
from pathlib import Path
source = Path("lambdas/app.py")
try:
    py_compile.compile(str(source), doraise=True)
except py_compile.PyCompileError as error:
    sys.exit(f"build: {error.msg}")
Path("dist").mkdir(exist_ok=True)
with zipfile.ZipFile("dist/fn.zip", "w") as archive:
    archive.write(source, "app.py")
"""

HANDLER = """
import json
def connect(event, context):
    return {"statusCode": 200}
def echo(event, context):
    return {"statusCode": 200, "body": json.dumps({"version": VERSION})}
VERSION = %d
"""


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "lambdas").mkdir(parents=True)
    (root / "terraform").mkdir()
    (root / "terraform" / "main.tf").write_text("# configuration\n")
    (root / "build.py").write_text(BUILD)
    (root / "lambdas" / "app.py").write_text(HANDLER % 1)
    return root


def _build_command() -> list[str]:
    return [sys.executable, "build.py"]


async def _build(root: Path) -> None:
    process = await asyncio.create_subprocess_exec(*_build_command(), cwd=root)
    assert await process.wait() == 0


def _api() -> ApiDeployment:
    return ApiDeployment(
        api_id="api1",
        stage="test",
        region="us-east-1",
        account_id="123456789012",
        route_selection_expression="$request.body.action",
        routes={"$connect": "connect", "$default": "echo"},
        authorizer=None,
        two_way_routes=frozenset({"$default"}),
    )


def _edit(path: Path, text: str) -> None:
    """Write ``text``, making sure the change is visible to a size+mtime poll."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    if path.stat().st_mtime_ns == before:  # coarse clock: bump the mtime
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, before + 1_000_000))


@pytest.fixture
async def stack(tmp_path: Path):
    root = _project(tmp_path)
    await _build(root)
    runtime = LocalLambda(
        tmp_path / "functions", environment_for_workers("http://127.0.0.1:1", "us-east-1")
    )
    runtime.loop = asyncio.get_running_loop()
    for name in ("connect", "echo"):
        runtime.register(
            FunctionSpec(
                name=name,
                handler=f"app.{name}",
                package=root / "dist" / "fn.zip",
                environment={},
                timeout_seconds=10,
            )
        )
    reloaded: list[dict[str, Path]] = []

    async def record(names: dict[str, Path]) -> None:
        reloaded.append(names)

    watcher = Watcher(
        runtime,
        sources=[root / "lambdas"],
        configuration=[root / "terraform"],
        build_command=_build_command(),
        root=root,
        interval=0.05,
        quiet=0.05,
        on_reload=record,
    )
    gateway = Gateway(_api(), runtime, Limits())
    client = TestClient(TestServer(gateway.app))
    await client.start_server()
    task = asyncio.create_task(watcher.run())
    await asyncio.sleep(0.2)  # the watcher's first look
    try:
        yield root, client, watcher, reloaded
    finally:
        task.cancel()
        await client.close()
        await runtime.stop()


async def _wait_for(condition, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _ask(ws) -> dict:
    await ws.send_str(json.dumps({"action": "hello"}))
    return json.loads((await ws.receive(timeout=30)).data)


async def test_a_saved_change_runs_on_the_next_invocation_and_the_connection_stays(stack, caplog):
    root, client, _watcher, reloaded = stack
    caplog.set_level(logging.INFO, logger="wspush.reload")
    ws = await client.ws_connect("/test")
    assert await _ask(ws) == {"version": 1}

    _edit(root / "lambdas" / "app.py", HANDLER % 2)
    await _wait_for(lambda: reloaded)

    assert await _ask(ws) == {"version": 2}
    assert not ws.closed
    assert set(reloaded[0]) == {"connect", "echo"}
    assert "reloaded echo: fn.zip" in caplog.text
    assert "lambdas/app.py changed: rebuilding" in caplog.text
    await ws.close()


async def test_a_failed_rebuild_is_reported_and_the_last_good_code_keeps_running(stack, caplog):
    root, client, _watcher, reloaded = stack
    caplog.set_level(logging.INFO, logger="wspush.reload")
    ws = await client.ws_connect("/test")
    _edit(root / "lambdas" / "app.py", "def echo(:\n")
    await _wait_for(lambda: "rebuild failed" in caplog.text)

    assert "keep running their last good zip" in caplog.text
    assert "build: " in caplog.text  # the build's own output
    assert reloaded == []
    assert await _ask(ws) == {"version": 1}

    _edit(root / "lambdas" / "app.py", HANDLER % 3)  # fixed: the next save reloads
    await _wait_for(lambda: reloaded)
    assert await _ask(ws) == {"version": 3}
    await ws.close()


async def test_saves_in_quick_succession_are_one_rebuild(stack):
    root, client, watcher, reloaded = stack
    watcher.quiet = 0.5
    for version in (4, 5, 6):
        _edit(root / "lambdas" / "app.py", HANDLER % version)
        await asyncio.sleep(0.1)
    await _wait_for(lambda: reloaded)
    await asyncio.sleep(0.3)
    assert watcher.rebuilds == 1
    ws = await client.ws_connect("/test")
    assert await _ask(ws) == {"version": 6}
    await ws.close()


async def test_a_configuration_change_says_a_restart_applies_it(stack, caplog):
    root, _client, watcher, _reloaded = stack
    caplog.set_level(logging.INFO, logger="wspush.reload")
    # A state file or the docs changing is not a configuration change.
    (root / "terraform" / "terraform.tfstate").write_text("{}")
    (root / "terraform" / "README.md").write_text("# docs\n")
    await asyncio.sleep(0.3)
    assert "Terraform configuration changed" not in caplog.text
    _edit(root / "terraform" / "main.tf", "# configuration, changed\n")
    await _wait_for(lambda: "Terraform configuration changed" in caplog.text)
    assert "terraform/main.tf" in caplog.text
    assert "restart the stack" in caplog.text
    assert watcher.rebuilds == 0
