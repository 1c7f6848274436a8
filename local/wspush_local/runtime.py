"""A local Lambda service: each function runs in worker processes built from its zip.

Every function gets its own unpacked copy of the deployed zip, its own environment (the
one Terraform configured, re-pointed at the local endpoints) and its own pool of warm
workers, each serving one invocation at a time. A timeout kills the worker, like Lambda.
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

from wspush_local.dlq import invocation_record

log = logging.getLogger("wspush.runtime")
# Sends (queue ARN, message body, message attributes) to a queue.
DeadLetter = Callable[[str, Any, dict[str, str]], None]
WORKER_SCRIPT = Path(__file__).with_name("worker.py")
# Lambda gives a function's init phase up to 10 seconds.
INIT_TIMEOUT_SECONDS = 10


class InvocationError(Exception):
    """The function raised, timed out or could not start."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True)
class AsyncConfig:
    """A function's event invoke config: retries of a failed asynchronous invocation, and
    where its invocation record goes once Lambda gives up."""

    retry_attempts: int = 2
    on_failure_destination: str | None = None


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    handler: str
    package: Path
    environment: dict[str, str]
    timeout_seconds: int
    memory_mb: int = 128
    async_config: AsyncConfig = field(default_factory=AsyncConfig)


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
        """Wait until the worker has imported its handler."""
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not raw:
            raise InvocationError("Runtime.ExitError", "the function's process exited during init")

    async def invoke(self, event: Any, timeout: float) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        request_id = next(self.ids)
        deadline_ms = int((time.time() + timeout) * 1000)
        line = json.dumps({"id": request_id, "event": event, "deadline_ms": deadline_ms})
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
    ) -> None:
        self._work_dir = work_dir
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
        # Lambda's init phase has a limit of its own (10 s), apart from the function's
        # timeout, which counts only the invocation.
        try:
            await worker.ready(INIT_TIMEOUT_SECONDS)
        except (TimeoutError, InvocationError) as error:
            await self._retire(function, worker)
            if isinstance(error, InvocationError):
                raise
            raise InvocationError(
                "Sandbox.Timedout", f"init took over {INIT_TIMEOUT_SECONDS} s"
            ) from None
        return worker

    async def invoke(self, name: str, event: Any) -> Any:
        """Run one invocation and return its result; raise ``InvocationError`` on failure."""
        function = self._functions.get(function_name_of(name))
        if function is None:
            raise InvocationError("ResourceNotFoundException", f"no function {name}")
        async with function.slots:
            worker = function.idle.pop() if function.idle else await self._start_worker(function)
            try:
                reply = await worker.invoke(event, function.spec.timeout_seconds)
            except TimeoutError:
                await self._retire(function, worker)
                raise InvocationError(
                    "Sandbox.Timedout", f"task timed out after {function.spec.timeout_seconds} s"
                ) from None
            except (InvocationError, BrokenPipeError, ConnectionResetError) as error:
                await self._retire(function, worker)
                raise InvocationError("Runtime.ExitError", str(error)) from None
            function.idle.append(worker)
        if not reply["ok"]:
            raise InvocationError(reply["errorType"], reply["errorMessage"])
        return reply["result"]

    def invoke_async(self, name: str, event: Any) -> None:
        """InvocationType=Event: accept now, run later; a failure is retried like Lambda
        (the function's retry attempts, after ``async_retry_delays``), then its invocation
        record goes to the function's on-failure destination."""
        function = self._functions.get(function_name_of(name))
        if function is None:
            raise InvocationError("ResourceNotFoundException", f"no function {name}")
        config = function.spec.async_config
        request_id = str(uuid.uuid4())

        async def run() -> None:
            failure: InvocationError | None = None
            delays = (0.0, *self._async_retry_delays[: config.retry_attempts])
            for delay in delays:
                await asyncio.sleep(delay)
                try:
                    await self.invoke(name, event)
                    return
                except InvocationError as error:
                    failure = error
                    log.warning("async invocation of %s failed: %s", name, error)
            target = config.on_failure_destination
            if failure is not None and target and self._dead_letter is not None:
                record = invocation_record(
                    self._function_arn_prefix + function.spec.name,
                    request_id,
                    event,
                    condition="RetriesExhausted",
                    invoke_count=len(delays),
                    error={"errorType": failure.error_type, "errorMessage": failure.message},
                )
                await asyncio.to_thread(self._dead_letter, target, record, {})

        task = asyncio.create_task(run())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def invoke_from_thread(self, name: str, event: Any, timeout: float = 900) -> Any:
        """For callers on other threads (the emulator's request handlers)."""
        assert self.loop is not None
        future = asyncio.run_coroutine_threadsafe(self.invoke(name, event), self.loop)
        return future.result(timeout)

    def invoke_async_from_thread(self, name: str, event: Any) -> None:
        assert self.loop is not None
        if not self.has(name):
            raise InvocationError("ResourceNotFoundException", f"no function {name}")
        self.loop.call_soon_threadsafe(self.invoke_async, name, event)

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
