"""The packages as a user gets them, against the session's local stack: the wheel in a
fresh virtualenv outside the repository, the npm tarball in an empty directory. Each runs
the documented snippets (README.md, clients/js/README.md), changed only in URLs, names and
region."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ROOT
from tests.snippets import snippet

pytestmark = pytest.mark.e2e
README = ROOT / "README.md"
JS_README = ROOT / "clients" / "js" / "README.md"
# What the documentation's examples name, and what the local stack has instead.
DOC_REGION = '"eu-west-1"'
DOC_PUBLISH_URL = "https://xyz789.execute-api.eu-west-1.amazonaws.com/prod/publish"
DOC_WEBSOCKET_URL = "wss://abc123.execute-api.eu-west-1.amazonaws.com/prod"
DOC_TOKEN_URL = "https://app.example.com/wspush-token"
DOC_PARAMETER = "/wspush/prod/token-secret"


def _run(command: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, **options)
    assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _clean_env(**extra: str) -> dict[str, str]:
    """A user's environment: no AWS settings, no virtualenv, nothing of the repository."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")
    env = {k: v for k, v in os.environ.items() if k in keep or k.startswith("npm_config_")}
    return {**env, **extra}


def _emulator_url(stack) -> str:
    url: str = json.loads((stack.work_dir / "stack.json").read_text())["emulator_url"]
    return url


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)])
    (built,) = out.glob("wspush-*.whl")
    with zipfile.ZipFile(built) as archive:
        names = set(archive.namelist())
    assert {"wspush/py.typed", "wspush/sdk/__init__.py", "wspush_local/cli/command.py"} <= names
    return built


_SDK_HARNESS = """
import asyncio, json, sys
from wspush.sdk import listen

ENTITY, WEBSOCKET_URL, MINT, PUBLISH = sys.argv[1:5]
scope = {}
exec(compile(open(MINT).read(), "README.md:sdk-mint", "exec"), scope)


async def main():
    subscribed = asyncio.Event()

    def status(line):
        print("status:", line, file=sys.stderr)
        if line == "subscribed to news":
            subscribed.set()

    def token():
        return scope["wspush_token"](ENTITY)

    async def first_headline():
        async for push in listen(WEBSOCKET_URL, token, topics=["news"], on_status=status):
            if push["type"] == "headline":
                return push

    received = asyncio.create_task(first_headline())
    await asyncio.wait_for(subscribed.wait(), 60)
    code = compile(open(PUBLISH).read(), "README.md:sdk-publish", "exec")
    await asyncio.to_thread(exec, code, scope)
    push = await asyncio.wait_for(received, 60)
    result = scope["result"]
    print(json.dumps({"push": push, "status": result.status.value, "id": result.id,
                      "report": result.report and result.report.as_dict()}))

asyncio.run(main())
"""


def _requirements(wheel: Path) -> dict[str, list[str]]:
    """The wheel's Requires-Dist, by extra ("" for the base install)."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode().splitlines()
    by_extra: dict[str, list[str]] = {}
    for line in lines:
        if line.startswith("Requires-Dist: "):
            requirement, _, marker = line.removeprefix("Requires-Dist: ").partition(";")
            extra = marker.split("extra ==")[-1].strip(" '\"") if "extra ==" in marker else ""
            by_extra.setdefault(extra, []).append(re.split(r"[<>=!~ \[]", requirement)[0])
    return by_extra


# The first test to use the stack waits for it to start (minutes on a loaded machine).
@pytest.mark.timeout(600)
def test_the_wheel_in_a_fresh_virtualenv_mints_connects_and_publishes(stack, wheel, tmp_path):
    # Given a wheel whose base install needs botocore alone, and listen only aiohttp
    requirements = _requirements(wheel)
    assert requirements[""] == ["botocore"]
    assert requirements["listen"] == ["aiohttp"]
    assert {"moto", "aiohttp", "boto3", "aws-lambda-powertools"} <= set(requirements["local"])
    # installed with the listen extra into a new virtualenv outside the repository
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    env = _clean_env()
    _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"{wheel}[listen]",
        ],
        env=env,
    )
    # Then the SDK imports without the emulator, boto3 or powertools
    probe = _run([str(python), "-c", _MISSING_PROBE], cwd=tmp_path, env=env).stdout.split()
    assert probe == ["moto", "boto3", "aws_lambda_powertools"]
    # and the command names the extra it needs instead of a traceback
    command = subprocess.run(
        [str(venv / "bin" / "wspush"), "url"], capture_output=True, text=True, env=env
    )
    assert command.returncode == 1 and "pip install 'wspush[local]'" in command.stderr
    assert "Traceback" not in command.stderr

    # When the README's snippets run there against the local stack
    replacements = {DOC_PARAMETER: stack.outputs["token_secret_parameter_name"]}
    mint = tmp_path / "mint.py"
    mint.write_text(snippet(README, "sdk-mint", {**replacements, DOC_REGION: f'"{stack.region}"'}))
    publish = tmp_path / "publish.py"
    publish.write_text(
        snippet(
            README,
            "sdk-publish",
            {DOC_PUBLISH_URL: stack.publish_url, DOC_REGION: f'"{stack.region}"'},
        )
    )
    harness = tmp_path / "harness.py"
    harness.write_text(_SDK_HARNESS)
    entity = f"sdk-{int(time.time() * 1000)}"
    aws = _clean_env(
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_ENDPOINT_URL_SSM=_emulator_url(stack),
    )
    result = subprocess.run(
        [str(python), str(harness), entity, stack.url, str(mint), str(publish)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=aws,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # Then the token connected, the SigV4-signed publish was delivered, and the push arrived
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome["status"] == "delivered"
    assert outcome["report"]["sent"] >= 1 and outcome["report"]["failed"] == 0
    assert outcome["push"]["id"] == outcome["id"]
    assert outcome["push"]["data"] == {"title": "wspush 0.3"}
    assert outcome["push"]["channel"] == "topic:news"


_MISSING_PROBE = """
import importlib.util, wspush.sdk
from wspush.sdk import Publisher, SigV4, mint_token
print(*[m for m in ("moto", "boto3", "aws_lambda_powertools")
        if importlib.util.find_spec(m) is None])
"""


@pytest.fixture
def token_endpoint(stack) -> Iterator[tuple[str, list[str]]]:
    """The backend of step 1: GET /wspush-token answers a fresh token as text."""
    entities: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            entity = f"js-pack-{len(entities)}-{int(time.time() * 1000)}"
            entities.append(entity)
            body = stack.token(entity, topics=["news"]).encode()
            self.send_response(200)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/wspush-token", entities
    server.shutdown()
    server.server_close()


def _stderr(process: subprocess.Popen[str]) -> str:
    process.kill()
    return process.stderr.read() if process.stderr else ""


# After the snippet: report readiness, print the first test push, and exit.
_JS_HARNESS = """
console.log("READY");
client.on("push", ({ type, data }) => {
  if (type !== "e2e.pack") return;
  console.log(JSON.stringify({ got: data }));
  client.disconnect();
  process.exit(0);
});
"""
# A page has a global WebSocket; Node 20 does not, so the page snippet gets ws's.
_BROWSER_GLOBALS = 'import WebSocket from "ws";\nglobalThis.WebSocket = WebSocket;\n'


@pytest.mark.timeout(600)
def test_the_npm_tarball_in_an_empty_directory_runs_the_documented_snippets(
    stack, token_endpoint, tmp_path
):
    token_url, entities = token_endpoint
    # Given the client packed and installed, with ws, into an empty directory
    packed = tmp_path / "packed"
    packed.mkdir()
    _run(["npm", "pack", "--silent", "--pack-destination", str(packed)], cwd=ROOT / "clients/js")
    (tarball,) = packed.glob("wspush-client-*.tgz")
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"private": True, "type": "module"}))
    npm_env = _clean_env()
    _run(
        [
            "npm",
            "install",
            "--silent",
            "--no-audit",
            "--no-fund",
            "--prefer-offline",
            str(tarball),
            "ws@8",
        ],
        cwd=app,
        env=npm_env,
    )
    installed = json.loads((app / "node_modules/@wspush/client/package.json").read_text())
    assert installed["name"] == "@wspush/client"
    urls = {DOC_WEBSOCKET_URL: stack.url, DOC_TOKEN_URL: token_url}
    scripts = {
        "node.mjs": snippet(JS_README, "js-node", urls),
        "page.mjs": _BROWSER_GLOBALS + snippet(README, "js-page", urls),
    }
    for name, code in scripts.items():
        # When the snippet connects and subscribes, and the backend publishes to news
        (app / name).write_text(code + _JS_HARNESS)
        node = subprocess.Popen(
            ["node", name],
            cwd=app,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=npm_env,
        )
        try:
            assert node.stdout is not None
            # (the snippet may print a scheduled broadcast before it is ready)
            lines: list[str] = []
            for line in node.stdout:
                lines.append(line)
                if line.strip() == "READY":
                    break
            assert lines and lines[-1].strip() == "READY", "".join(lines) + _stderr(node)
            stack.push({"topic": "news", "type": "e2e.pack", "payload": {"script": name}})
            stdout, stderr = node.communicate(timeout=60)
        finally:
            node.kill()
        # Then the push arrived through the installed package
        assert node.returncode == 0, stdout + stderr
        assert json.loads(stdout.splitlines()[-1]) == {"got": {"script": name}}
    assert len(entities) == 2  # each snippet asked the backend for its token
