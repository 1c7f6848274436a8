"""The local Lambda runtime runs handlers from a zip, isolated, with Lambda's failure modes."""

from __future__ import annotations

import asyncio
import dataclasses
import zipfile
from pathlib import Path

import pytest

from wspush_local.runtime.service import (
    RECURSION_LIMIT,
    AsyncConfig,
    FunctionSpec,
    InvocationError,
    InvokeRefused,
    LocalLambda,
    continue_trace,
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


async def test_async_retries_keep_the_request_id_as_lambda_does(tmp_path):
    # Given a function that records its request id and fails twice, then succeeds
    source = """
import os
def flaky(event, context):
    with open(event["log"], "a") as log:
        log.write(context.aws_request_id + "\\n")
    if sum(1 for _ in open(event["log"])) < 3:
        raise RuntimeError("not yet")
"""
    log = tmp_path / "ids.txt"
    runtime = await _runtime(tmp_path, _spec(_zip(tmp_path, source), "app.flaky"))
    try:
        # When it is invoked asynchronously, and then synchronously twice
        runtime.invoke_async("flaky", {"log": str(log)})
        for _ in range(200):
            if log.exists() and len(log.read_text().split()) == 3:
                break
            await asyncio.sleep(0.05)
        retried = log.read_text().split()
        await runtime.invoke("flaky", {"log": str(log)})
        await runtime.invoke("flaky", {"log": str(log)})
        # Then the three attempts share one id, and each direct invocation has its own
        assert len(retried) == 3 and len(set(retried)) == 1
        direct = log.read_text().split()[3:]
        assert len(set(direct)) == 2 and retried[0] not in direct
    finally:
        await runtime.stop()


async def test_started_is_set_when_a_worker_takes_the_invocation(tmp_path):
    runtime = await _runtime(tmp_path, _spec(_zip(tmp_path, HANDLERS), "app.echo"))
    try:
        started = asyncio.Event()
        await runtime.invoke("echo", {}, started=started)
        assert started.is_set()
    finally:
        await runtime.stop()


async def test_init_does_not_count_against_the_function_timeout(tmp_path):
    # Given a module that takes longer to import than the function's 1 s timeout
    source = "import time\ntime.sleep(1.5)\ndef quick(event, context):\n    return 'ok'\n"
    runtime = await _runtime(tmp_path, _spec(_zip(tmp_path, source), "app.quick", timeout=1))
    try:
        # Then its first invocation still succeeds, as on Lambda (init has its own limit)
        assert await runtime.invoke("quick", {}) == "ok"
    finally:
        await runtime.stop()


def test_a_trace_continues_its_root_and_counts_each_function_of_the_chain():
    first, count = continue_trace(None, "push")
    assert count == 1 and first.startswith("Root=1-")
    second, count = continue_trace(first, "push")
    assert count == 2 and second.split(";")[0] == first.split(";")[0]
    # Another function in the same chain has a count of its own
    _, other = continue_trace(second, "publish")
    assert other == 1
    # Whatever a caller sends, a count is read or the chain starts over, never an error
    for header in ("", "garbage", "Lineage=zz:x,:1", "Root=;Lineage=abc:"):
        assert continue_trace(header, "push")[1] == 1


async def test_the_invocation_after_the_recursion_limit_is_refused_unless_allowed(tmp_path):
    package = _zip(tmp_path, HANDLERS)
    allowed = dataclasses.replace(
        _spec(package, "app.echo"), name="allowed", recursive_loop="Allow"
    )
    runtime = await _runtime(tmp_path, _spec(package, "app.echo"), allowed)
    try:
        # Given a chain that already invoked each function RECURSION_LIMIT times
        header = None
        for _ in range(RECURSION_LIMIT):
            header, _ = continue_trace(header, "echo")
            header, _ = continue_trace(header, "allowed")
        # Then the next invocation is stopped, as Lambda stops it (Terminate, its default)
        with pytest.raises(InvokeRefused) as stopped:
            await runtime.invoke("echo", {}, trace_header=header)
        assert stopped.value.error_type == "RecursiveInvocationException"
        assert stopped.value.status == 400
        # And a function whose recursion config is Allow runs on
        assert (await runtime.invoke("allowed", {"a": 1}, trace_header=header))["event"] == {"a": 1}
    finally:
        await runtime.stop()


async def test_a_synchronous_invoke_over_the_account_concurrency_is_throttled(tmp_path):
    package = _zip(tmp_path, HANDLERS)
    runtime = LocalLambda(
        tmp_path / "functions",
        environment_for_workers("http://127.0.0.1:1", "us-east-1"),
        account_concurrency=1,
    )
    runtime.loop = asyncio.get_running_loop()
    runtime.register(_spec(package, "app.slow", timeout=10))
    runtime.register(_spec(package, "app.echo"))
    try:
        # Given the account's one execution is taken
        running = asyncio.ensure_future(runtime.invoke("slow", {}))
        while runtime.executions == 0:
            await asyncio.sleep(0.01)
        # Then another function's invoke is refused with Lambda's 429, and never ran
        with pytest.raises(InvokeRefused) as throttled:
            await runtime.invoke("echo", {})
        assert throttled.value.throttled and throttled.value.status == 429
        assert throttled.value.error_type == "TooManyRequestsException"
        assert throttled.value.fields["Reason"] == "ConcurrentInvocationLimitExceeded"
        # And once it finishes, the slot is free again
        await running
        assert (await runtime.invoke("echo", {"b": 2}))["event"] == {"b": 2}
    finally:
        await runtime.stop()
