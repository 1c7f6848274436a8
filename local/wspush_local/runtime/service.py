"""A local Lambda service: each function runs in worker processes built from its zip.

Every function gets its own unpacked copy of the deployed zip, its own environment (the
one Terraform configured, re-pointed at the local endpoints) and its own pool of warm
workers, each serving one invocation at a time. A timeout kills the worker, like Lambda.

Two account rules are Lambda's own (docs/parity.md):

- concurrency: at most ``account_concurrency`` invocations run at once across all
  functions; a synchronous invoke over it is refused with ``TooManyRequestsException``
  (HTTP 429), an asynchronous one waits in its queue, as Lambda's does;
- recursive loop detection: every invocation carries an X-Ray trace header
  (``_X_AMZN_TRACE_ID``, which the AWS SDKs forward on each call a function makes) whose
  ``Lineage`` counts the invocations of each function in the chain; the invocation after
  ``RECURSION_LIMIT`` of one function is stopped, unless its recursion config is Allow.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import os
import shutil
import sys
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wspush_local.runtime.dlq import invocation_record

log = logging.getLogger("wspush.runtime")
# Sends (queue ARN, message body, message attributes) to a queue.
DeadLetter = Callable[[str, Any, dict[str, str]], None]
WORKER_SCRIPT = Path(__file__).with_name("worker.py")
INIT_SECONDS = 10  # Lambda's init phase limit
# Lambda stops a chain after "approximately 16" invocations of one function:
# https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html
RECURSION_LIMIT = 16
# Generous for development; a new AWS account may have as little as 10
# (`wspush run --account-concurrency 10` models one).
DEFAULT_ACCOUNT_CONCURRENCY = 1000
# Lambda keeps retrying a throttled asynchronous event until its maximum age.
THROTTLED_ASYNC_RETRY_SECONDS = (0.1, 2.0)  # first delay, longest delay


class InvocationError(Exception):
    """The function raised, timed out or could not start."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


class InvokeRefused(InvocationError):
    """Lambda refused the Invoke call itself (an API error, the function never ran):
    throttled, or stopped as a recursive loop. ``fields`` are the error body's others."""

    def __init__(
        self, status: int, error_type: str, message: str, fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(error_type, message)
        self.status = status
        self.fields = fields or {}

    @property
    def throttled(self) -> bool:
        return self.status == 429


def _throttled() -> InvokeRefused:
    return InvokeRefused(
        429,
        "TooManyRequestsException",
        "Rate Exceeded.",
        {"Reason": "ConcurrentInvocationLimitExceeded", "Type": "User"},
    )


def _recursive_loop(function: str) -> InvokeRefused:
    return InvokeRefused(
        400,
        "RecursiveInvocationException",
        f"Lambda has detected your function {function} being invoked in a recursive loop "
        "and stopped your function's invocation.",
        {"Type": "User"},
    )


@dataclass(frozen=True)
class AsyncConfig:
    """A function's event invoke config: retries of a failed asynchronous invocation, how
    long an event may wait (throttled) to run, and where its invocation record goes once
    Lambda gives up."""

    retry_attempts: int = 2
    on_failure_destination: str | None = None
    max_event_age_seconds: int = 21600


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    handler: str
    package: Path
    environment: dict[str, str]
    timeout_seconds: int
    memory_mb: int = 128
    async_config: AsyncConfig = field(default_factory=AsyncConfig)
    recursive_loop: str = "Terminate"  # the function's recursion config (Lambda's default)


def _lineage_key(function: str) -> str:
    return hashlib.sha256(function.encode()).hexdigest()[:8]


def continue_trace(trace_header: str | None, function: str) -> tuple[str, int]:
    """The trace header of an invocation of ``function`` caused by a call carrying
    ``trace_header`` (None: a new chain), and how many invocations of ``function`` the
    chain now holds. The root stays; ``Lineage`` holds ``<function hash>:<count>`` per
    function of the chain (Lambda's own encoding of it is internal)."""
    fields = dict(
        part.strip().split("=", 1) for part in (trace_header or "").split(";") if "=" in part
    )
    counts: dict[str, int] = {}
    for entry in fields.get("Lineage", "").split(","):
        key, _, count = entry.partition(":")
        if key and count.isdigit():
            counts[key] = int(count)
    key = _lineage_key(function)
    counts[key] = counts.get(key, 0) + 1
    root = fields.get("Root") or f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
    lineage = ",".join(f"{k}:{n}" for k, n in counts.items())
    header = f"Root={root};Parent={uuid.uuid4().hex[:16]};Sampled=0;Lineage={lineage}"
    return header, counts[key]


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process, function: str) -> None:
        self.process = process
        self.function = function
        self.ids = itertools.count()
        self.log_task = asyncio.create_task(self._forward_logs())

    async def _forward_logs(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            line = raw.decode(errors="replace").rstrip()
            # Metric (EMF) lines are for CloudWatch; the log lines already say what happened.
            level = logging.DEBUG if line.startswith('{"_aws"') else logging.INFO
            log.log(level, "[%s] %s", self.function, line)

    async def ready(self, timeout: float) -> None:
        """Wait for the worker's line saying its handler module is imported."""
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not raw or not json.loads(raw).get("ready"):
            raise InvocationError("Runtime.ExitError", "the function's process exited")

    async def invoke(
        self, event: Any, timeout: float, request_id: str, trace_id: str
    ) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        deadline_ms = int((time.time() + timeout) * 1000)
        line = json.dumps(
            {
                "id": next(self.ids),
                "request_id": request_id,
                "trace_id": trace_id,
                "event": event,
                "deadline_ms": deadline_ms,
            }
        )
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()
        raw = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not raw:
            raise InvocationError("Runtime.ExitError", "the function's process exited")
        reply: dict[str, Any] = json.loads(raw)
        return reply

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        self.log_task.cancel()


@dataclass
class _Function:
    spec: FunctionSpec
    directory: Path
    environment: dict[str, str]
    slots: asyncio.Semaphore  # how many invocations may run at once (warm workers)
    idle: list[_Worker] = field(default_factory=list)
    live: set[_Worker] = field(default_factory=set)


class LocalLambda:
    """Runs functions from their zips. ``invoke`` is the Lambda Invoke API, in-process."""

    def __init__(
        self,
        work_dir: Path,
        base_environment: dict[str, str],
        concurrency: int = 4,
        dead_letter: DeadLetter | None = None,
        async_retry_delays: tuple[float, ...] = (1.0, 2.0),
        account_id: str = "123456789012",
        region: str = "us-east-1",
        account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY,
    ) -> None:
        self._work_dir = work_dir
        self.account_concurrency = account_concurrency
        self._executions = 0  # invocations running now, across all functions
        self._base_environment = base_environment
        self._concurrency = concurrency
        self._dead_letter = dead_letter
        self._async_retry_delays = async_retry_delays
        self._function_arn_prefix = f"arn:aws:lambda:{region}:{account_id}:function:"
        self._functions: dict[str, _Function] = {}
        self._pending: set[asyncio.Task[Any]] = set()
        self.loop: asyncio.AbstractEventLoop | None = None

    def register(self, spec: FunctionSpec, concurrency: int | None = None) -> None:
        """Unpack a function; ``concurrency`` overrides the default number of warm workers
        (a function that invokes itself synchronously needs a slot per invocation it waits
        on, as it would need concurrency in Lambda)."""
        directory = self._work_dir / spec.name
        shutil.rmtree(directory, ignore_errors=True)
        with zipfile.ZipFile(spec.package) as archive:
            archive.extractall(directory)
        environment = {
            **self._base_environment,
            **spec.environment,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout_seconds),
            "LAMBDA_TASK_ROOT": str(directory),
        }
        slots = asyncio.Semaphore(concurrency or self._concurrency)
        function = _Function(spec, directory, environment, slots)
        self._functions[spec.name] = function
        digest = hashlib.sha256(spec.package.read_bytes()).hexdigest()[:12]
        log.info("function %s from %s (sha256 %s…)", spec.name, spec.package.name, digest)

    def has(self, name: str) -> bool:
        return function_name_of(name) in self._functions

    async def _start_worker(self, function: _Function) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(WORKER_SCRIPT),
            str(function.directory),
            function.spec.handler,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=function.environment,
            cwd=function.directory,
            limit=8 * 1024 * 1024,
        )
        worker = _Worker(process, function.spec.name)
        function.live.add(worker)
        # Lambda gives init 10 s of its own, and retries a slow init within the first
        # invocation's timeout: the function timeout never includes importing the code.
        try:
            await worker.ready(INIT_SECONDS + function.spec.timeout_seconds)
        except (TimeoutError, InvocationError) as error:
            await self._retire(function, worker)
            raise InvocationError("Runtime.InitError", f"init did not finish: {error}") from None
        return worker

    @property
    def executions(self) -> int:
        """Invocations running now, across all functions (the account's concurrency)."""
        return self._executions

    def _function(self, name: str) -> _Function:
        function = self._functions.get(function_name_of(name))
        if function is None:
            raise InvocationError("ResourceNotFoundException", f"no function {name}")
        return function

    async def invoke(
        self,
        name: str,
        event: Any,
        request_id: str | None = None,
        started: asyncio.Event | None = None,
        trace_header: str | None = None,
    ) -> Any:
        """Run one invocation and return its result; raise ``InvocationError`` on failure
        (``InvokeRefused`` when Lambda would refuse the call: over the account's
        concurrency, or a recursive loop). ``request_id`` is the context's
        ``aws_request_id`` (new when not given); ``started`` is set when a worker takes
        the invocation (the wait for a free worker is this runtime's, not Lambda's, which
        scales out instead); ``trace_header`` is the caller's X-Amzn-Trace-Id."""
        function = self._function(name)
        trace_id, invocations = continue_trace(trace_header, function.spec.name)
        if invocations > RECURSION_LIMIT and function.spec.recursive_loop != "Allow":
            log.error(
                "%s stopped: invocation %d of one chain (recursive loop detection; its "
                "recursion config is %s)",
                function.spec.name,
                invocations,
                function.spec.recursive_loop,
            )
            raise _recursive_loop(function.spec.name)
        if self._executions >= self.account_concurrency:
            raise _throttled()
        self._executions += 1
        try:
            reply = await self._run(
                function, event, request_id or str(uuid.uuid4()), trace_id, started
            )
        finally:
            self._executions -= 1
        if not reply["ok"]:
            raise InvocationError(reply["errorType"], reply["errorMessage"])
        return reply["result"]

    async def _run(
        self,
        function: _Function,
        event: Any,
        request_id: str,
        trace_id: str,
        started: asyncio.Event | None,
    ) -> dict[str, Any]:
        async with function.slots:
            if started is not None:
                started.set()
            worker = function.idle.pop() if function.idle else await self._start_worker(function)
            timeout = function.spec.timeout_seconds
            try:
                reply = await worker.invoke(event, timeout, request_id, trace_id)
            except TimeoutError:
                await self._retire(function, worker)
                raise InvocationError(
                    "Sandbox.Timedout", f"task timed out after {timeout} s"
                ) from None
            except (InvocationError, BrokenPipeError, ConnectionResetError) as error:
                await self._retire(function, worker)
                raise InvocationError("Runtime.ExitError", str(error)) from None
            function.idle.append(worker)
        return reply

    def invoke_async(self, name: str, event: Any, trace_header: str | None = None) -> None:
        """InvocationType=Event: accept now, run later; a failure is retried like Lambda
        (the function's retry attempts, after ``async_retry_delays``), with the same request
        id on every attempt, then its invocation record goes to the function's on-failure
        destination. A throttled event waits in the queue (up to its maximum age) without
        using a retry; one stopped as a recursive loop is not retried."""
        function = self._function(name)
        config = function.spec.async_config
        request_id = str(uuid.uuid4())

        async def run() -> None:
            failure: InvocationError | None = None
            condition = "RetriesExhausted"
            attempts = 0
            retry_delays = iter(self._async_retry_delays[: config.retry_attempts])
            delay: float | None = 0.0
            throttled_delay, longest = THROTTLED_ASYNC_RETRY_SECONDS
            queued_at = time.monotonic()
            while delay is not None:
                await asyncio.sleep(delay)
                try:
                    await self.invoke(name, event, request_id, trace_header=trace_header)
                    return
                except InvokeRefused as refused:
                    failure = refused
                    if not refused.throttled:
                        attempts += 1
                        break
                    if time.monotonic() - queued_at > config.max_event_age_seconds:
                        condition = "EventAgeExceeded"
                        break
                    delay, throttled_delay = throttled_delay, min(2 * throttled_delay, longest)
                except InvocationError as error:
                    failure = error
                    attempts += 1
                    log.warning("async invocation %s of %s failed: %s", request_id, name, error)
                    delay = next(retry_delays, None)
            target = config.on_failure_destination
            if failure is not None and target and self._dead_letter is not None:
                record = invocation_record(
                    self._function_arn_prefix + function.spec.name,
                    request_id,
                    event,
                    condition=condition,
                    invoke_count=attempts,
                    error={"errorType": failure.error_type, "errorMessage": failure.message},
                )
                await asyncio.to_thread(self._dead_letter, target, record, {})

        task = asyncio.create_task(run())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def invoke_from_thread(
        self, name: str, event: Any, timeout: float = 900, trace_header: str | None = None
    ) -> Any:
        """For callers on other threads (the emulator's request handlers)."""
        assert self.loop is not None
        invocation = self.invoke(name, event, trace_header=trace_header)
        future = asyncio.run_coroutine_threadsafe(invocation, self.loop)
        return future.result(timeout)

    def invoke_async_from_thread(
        self, name: str, event: Any, trace_header: str | None = None
    ) -> None:
        assert self.loop is not None
        self._function(name)  # refused now when unknown, as the Invoke call is
        self.loop.call_soon_threadsafe(self.invoke_async, name, event, trace_header)

    async def _retire(self, function: _Function, worker: _Worker) -> None:
        function.live.discard(worker)
        await worker.stop()

    async def stop(self) -> None:
        for task in list(self._pending):
            task.cancel()
        for function in self._functions.values():
            for worker in list(function.live):
                await worker.stop()
            function.live.clear()
            function.idle.clear()


def function_name_of(name_or_arn: str) -> str:
    """Accept a name, a function ARN, or an ARN with a qualifier."""
    if name_or_arn.startswith("arn:"):
        parts = name_or_arn.split(":")
        return parts[6] if len(parts) > 6 else name_or_arn
    return name_or_arn


def environment_for_workers(emulator_url: str, region: str) -> dict[str, str]:
    """What every worker inherits: the emulator for AWS calls, fake credentials, no X-Ray."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "SSL_CERT_FILE", "AWS_CA_BUNDLE")
    environment = {key: os.environ[key] for key in keep if key in os.environ}
    environment.update(
        {
            "AWS_ENDPOINT_URL": emulator_url,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return environment
