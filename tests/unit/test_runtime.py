"""The local Lambda runtime runs handlers from a zip, isolated, with Lambda's failure modes."""

from __future__ import annotations

import asyncio
import zipfile
from pathlib import Path

import pytest

from wspush_local.runtime import (
    AsyncConfig,
    FunctionSpec,
    InvocationError,
    LocalLambda,
    environment_for_workers,
)

HANDLERS = """
import os, time
def echo(event, context):
    return {"event": event, "env": os.environ.get("GREETING"), "fn": context.function_name,
            "remaining": context.get_remaining_time_in_millis() > 0}
def fail(event, context):
    raise ValueError("bad input")
def slow(event, context):
    time.sleep(5)
"""


def _zip(tmp_path: Path, source: str) -> Path:
    package = tmp_path / "fn.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("app.py", source)
    return package


def _spec(
    package: Path, handler: str, timeout: int = 5, async_config: AsyncConfig | None = None
) -> FunctionSpec:
    return FunctionSpec(
        name=handler.split(".")[-1],
        handler=handler,
        package=package,
        environment={"GREETING": "hi"},
        timeout_seconds=timeout,
        async_config=async_config or AsyncConfig(),
    )


async def _runtime(tmp_path: Path, *specs: FunctionSpec, dead_letter=None) -> LocalLambda:
    runtime = LocalLambda(
        tmp_path / "functions",
        environment_for_workers("http://127.0.0.1:1", "us-east-1"),
        dead_letter=dead_letter,
        async_retry_delays=(0.01, 0.01),
    )
    runtime.loop = asyncio.get_running_loop()
    for spec in specs:
        runtime.register(spec)
    return runtime


async def test_a_handler_runs_with_its_own_environment_and_context(tmp_path):
    runtime = await _runtime(tmp_path, _spec(_zip(tmp_path, HANDLERS), "app.echo"))
    try:
        result = await runtime.invoke(
            "arn:aws:lambda:us-east-1:123456789012:function:echo", {"a": 1}
        )
        assert result == {"event": {"a": 1}, "env": "hi", "fn": "echo", "remaining": True}
    finally:
        await runtime.stop()


async def test_a_raising_handler_is_an_invocation_error_and_the_worker_survives(tmp_path):
    package = _zip(tmp_path, HANDLERS)
    runtime = await _runtime(tmp_path, _spec(package, "app.fail"), _spec(package, "app.echo"))
    try:
        with pytest.raises(InvocationError) as failed:
            await runtime.invoke("fail", {})
        assert (failed.value.error_type, failed.value.message) == ("ValueError", "bad input")
        with pytest.raises(InvocationError):
            await runtime.invoke("fail", {})
    finally:
        await runtime.stop()


async def test_a_timeout_kills_the_worker(tmp_path):
    runtime = await _runtime(tmp_path, _spec(_zip(tmp_path, HANDLERS), "app.slow", timeout=1))
    try:
        with pytest.raises(InvocationError) as failed:
            await runtime.invoke("slow", {})
        assert failed.value.error_type == "Sandbox.Timedout"
    finally:
        await runtime.stop()


async def test_an_import_error_is_reported_like_lambda(tmp_path):
    runtime = await _runtime(tmp_path, _spec(_zip(tmp_path, "import does_not_exist\n"), "app.echo"))
    try:
        with pytest.raises(InvocationError) as failed:
            await runtime.invoke("echo", {})
        assert failed.value.error_type == "Runtime.ImportModuleError"
    finally:
        await runtime.stop()


async def _failed_async_invocation(tmp_path: Path, retry_attempts: int) -> list[tuple]:
    letters: list[tuple[str, dict, dict[str, str]]] = []
    config = AsyncConfig(retry_attempts, on_failure_destination="arn:aws:sqs:us-east-1:1:dlq")
    spec = _spec(_zip(tmp_path, HANDLERS), "app.fail", async_config=config)
    runtime = await _runtime(tmp_path, spec, dead_letter=lambda *letter: letters.append(letter))
    try:
        runtime.invoke_async("fail", {"n": 1})
        for _ in range(200):
            if letters:
                break
            await asyncio.sleep(0.05)
        return letters
    finally:
        await runtime.stop()


async def test_a_failing_async_invocation_is_retried_then_recorded_at_its_destination(tmp_path):
    # Given a function that always fails, with two retries and an on-failure destination
    # When it is invoked asynchronously
    letters = await _failed_async_invocation(tmp_path, retry_attempts=2)
    # Then one invocation record reaches the destination, as Lambda writes it
    assert len(letters) == 1
    queue, record, attributes = letters[0]
    assert (queue, attributes) == ("arn:aws:sqs:us-east-1:1:dlq", {})
    assert record["version"] == "1.0"
    assert record["requestPayload"] == {"n": 1}
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(":function:fail:$LATEST")
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"] == {"errorType": "ValueError", "errorMessage": "bad input"}


async def test_with_no_retries_a_failure_is_recorded_after_one_attempt(tmp_path):
    letters = await _failed_async_invocation(tmp_path, retry_attempts=0)
    assert [record["requestContext"]["approximateInvokeCount"] for _, record, _ in letters] == [1]


async def test_an_unknown_function_is_refused(tmp_path):
    runtime = await _runtime(tmp_path)
    with pytest.raises(InvocationError) as failed:
        await runtime.invoke("nope", {})
    assert failed.value.error_type == "ResourceNotFoundException"


async def test_init_has_its_own_limit_apart_from_the_function_timeout(tmp_path):
    # Given a module that takes 1.5 s to import, and a 1-second function timeout
    slow_init = "import time\ntime.sleep(1.5)\ndef quick(event, context):\n    return 'ok'\n"
    runtime = await _runtime(tmp_path, _spec(_zip(tmp_path, slow_init), "app.quick", timeout=1))
    try:
        # Then the first invocation still succeeds: only the invocation counts, as on Lambda
        assert await runtime.invoke("quick", {}) == "ok"
    finally:
        await runtime.stop()
