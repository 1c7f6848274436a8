"""Calling the deployment's client publish hook: one synchronous Lambda invoke per publish,
one attempt, a short read timeout (the publisher waits for its reply)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

from wspush.logic import strict_json
from wspush.models.client_publish import HookFailed

# The hook runs while the publisher waits; the message function's own timeout is longer.
# Its client is ``push_invoker.invoke_client_config(HOOK_WAIT_SECONDS)``: one attempt.
HOOK_WAIT_SECONDS = 5


class HookInvoker:
    def __init__(self, client: Any, function_arn: str) -> None:
        self._client = client
        self._function = function_arn

    def call(self, request: dict[str, Any]) -> Any:
        """The hook's answer (its JSON result), or ``HookFailed``."""
        payload = json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        try:
            response = self._client.invoke(
                FunctionName=self._function, InvocationType="RequestResponse", Payload=payload
            )
        except ReadTimeoutError:
            raise HookFailed("the publish hook did not answer in time") from None
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            raise HookFailed(f"the publish hook could not be called: {code}") from error
        except BotoCoreError as error:
            raise HookFailed(
                f"the publish hook could not be called: {type(error).__name__}"
            ) from error
        raw = response["Payload"].read()
        if "FunctionError" in response:
            raise HookFailed("the publish hook failed")
        try:
            return strict_json.loads(raw or b"null")
        except ValueError as error:  # strict_json.InvalidJson among them
            raise HookFailed(
                f"the publish hook answered something that is not JSON: {str(error)[:200]}"
            ) from None
