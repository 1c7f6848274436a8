"""Invoking the push function: synchronously (the caller waits for the report) or as an
asynchronous event (Lambda queues it, retries it and dead-letters it on failure).

The client makes exactly one attempt per call: a retried synchronous invoke whose first
attempt timed out would push the message twice. Throttling is retried here only for the
asynchronous path, where a refused call never started.
"""

from __future__ import annotations

import json
import time
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

from wspush.models.publish import HandOffFailed
from wspush.models.push import DUPLICATE_IN_PROGRESS

ASYNC_ATTEMPTS = 3
# Lambda refused the invoke before running anything: safe to try again later.
THROTTLED_ERRORS = frozenset(
    {"TooManyRequestsException", "EC2ThrottledException", "ThrottlingException"}
)


def invoke_client_config(wait_seconds: float) -> Config:
    return Config(
        connect_timeout=2,
        read_timeout=wait_seconds,
        retries={"mode": "standard", "total_max_attempts": 1},
    )


def _payload(request: dict[str, Any]) -> bytes:
    # Compact and not ASCII-escaped: the same size as the envelope the push will build.
    return json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _failure(error: Exception) -> HandOffFailed:
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        return HandOffFailed(f"push function invoke failed: {code}", code in THROTTLED_ERRORS)
    return HandOffFailed(f"push function invoke failed: {type(error).__name__}")


class PushInvoker:
    def __init__(self, client: Any, function_name: str) -> None:
        self._client = client
        self._function = function_name

    def deliver(self, request: dict[str, Any]) -> dict[str, Any] | None:
        try:
            response = self._client.invoke(
                FunctionName=self._function,
                InvocationType="RequestResponse",
                Payload=_payload(request),
            )
        except ReadTimeoutError:
            return None  # the invocation runs on: its outcome is in the push log
        except (ClientError, BotoCoreError) as error:
            raise _failure(error) from error
        body = json.loads(response["Payload"].read() or b"null")
        if "FunctionError" in response:
            failure = body if isinstance(body, dict) else {}
            message = str(failure.get("errorMessage", ""))[:300]
            if failure.get("errorType") == "IdConflict":
                raise HandOffFailed(message, id_conflict=True)
            raise HandOffFailed(f"the push failed: {message[:200]}")
        if not isinstance(body, dict):
            raise HandOffFailed("the push function answered no report")
        if body.get(DUPLICATE_IN_PROGRESS):
            return None  # another attempt of this push delivers it

        report: dict[str, Any] = {
            key: int(value)
            for key, value in body.items()
            if isinstance(value, int) and not isinstance(value, bool)
        }
        if isinstance(body.get("status"), str):
            report["status"] = body["status"]
        if body.get("handedOn") is True:
            report["handedOn"] = True
        return report

    def enqueue(self, request: dict[str, Any]) -> None:
        for attempt in range(ASYNC_ATTEMPTS):
            try:
                self._client.invoke(
                    FunctionName=self._function, InvocationType="Event", Payload=_payload(request)
                )
                return
            except (ClientError, BotoCoreError) as error:
                failure = _failure(error)
                if not failure.throttled or attempt == ASYNC_ATTEMPTS - 1:
                    raise failure from error
                time.sleep(0.1 * 2**attempt)
