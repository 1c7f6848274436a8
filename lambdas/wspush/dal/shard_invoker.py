"""The push function invoking itself: shards synchronously, hand-ons asynchronously.

The Lambda client never retries on its own (``total_max_attempts = 1``) and waits longer than the
function can run: an SDK retry after a read timeout would run a shard a second time behind
the coordinator's back. The coordinator decides about retries.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from wspush.dal.push_invoker import THROTTLED_ERRORS, invoke_client_config
from wspush.models.shard import ShardFailed, ShardThrottled, encode_task

# Invoke takes 6 MB synchronously and 1 MB asynchronously (256 KB before that limit was
# raised): a hand-on carries the envelope (at most 128 KB) and cursors, and is held to the
# older limit, in bytes of its UTF-8 payload.
MAX_HAND_ON_BYTES = 240 * 1024


# Lambda's longest timeout: a synchronous invoke must be waited for at least this long.
MAX_FUNCTION_SECONDS = 900


def shard_client_config(parallelism: int) -> Config:
    """One attempt, a read timeout above any function's timeout, a connection per shard."""
    base = invoke_client_config(MAX_FUNCTION_SECONDS + 30)
    return base.merge(Config(max_pool_connections=max(parallelism, 10)))


class ShardInvoker:
    def __init__(self, lambda_client: Any, function_name: str) -> None:
        self._client = lambda_client
        self._function = function_name

    def run(self, task: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._client.invoke(
                FunctionName=self._function,
                InvocationType="RequestResponse",
                Payload=encode_task(task),
            )
            body = response["Payload"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in THROTTLED_ERRORS:
                raise ShardThrottled(f"invoke {self._function} throttled: {error}") from error
            raise ShardFailed(f"invoke {self._function} failed: {error}") from error
        except BotoCoreError as error:
            raise ShardFailed(f"invoke {self._function} failed: {error}") from error
        if "FunctionError" in response:
            raise ShardFailed(f"shard invocation failed: {body[:500].decode(errors='replace')}")
        try:
            result: dict[str, Any] = json.loads(body)
        except ValueError as error:
            raise ShardFailed(f"shard invocation answered no JSON: {error}") from error
        return result

    def hand_on(self, task: dict[str, Any]) -> None:
        payload = encode_task(task)
        if len(payload) > MAX_HAND_ON_BYTES:
            raise ShardFailed(f"hand-on of {len(payload)} bytes is over {MAX_HAND_ON_BYTES}")
        try:
            self._client.invoke(
                FunctionName=self._function, InvocationType="Event", Payload=payload
            )
        except (ClientError, BotoCoreError) as error:
            raise ShardFailed(f"hand-on to {self._function} failed: {error}") from error
