"""The Lambda API calls about account rules that moto lacks, answered by the emulator.

- ``PutFunctionRecursionConfig`` / ``GetFunctionRecursionConfig``: a function's recursive
  loop detection setting (``Terminate`` unless set), stored with the function, so that
  Terraform's ``aws_lambda_function_recursion_config`` applies and the stack reads it back
  (``deployment.read_functions``) for the runtime to enforce;
- ``GetAccountSettings``: the account's concurrency as the local runtime enforces it
  (``ConcurrentExecutions``; ``UnreservedConcurrentExecutions`` less the functions'
  reserved concurrency), what ``make deploy``'s preflight reads;
- an Invoke the runtime refuses (``InvokeRefused``) answers as Lambda's API does: HTTP 429
  ``TooManyRequestsException`` or 400 ``RecursiveInvocationException``, with the error's
  fields (``Reason``, ``Type``), so the SDK raises the same exception as on AWS.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from moto.awslambda import urls as lambda_urls
from moto.awslambda.responses import LambdaResponse
from moto.core.exceptions import JsonRESTError

from wspush_local.runtime.service import InvokeRefused, LocalLambda

RECURSIVE_LOOP_VALUES = ("Allow", "Terminate")
# The Invoke API's paths moto does not route (its own patterns, same style).
_PATHS = (
    r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/recursion-config/?$",
    r"{0}/(?P<api_version>[^/]+)/account-settings/?$",
)
# Lambda's code storage quotas, as GetAccountSettings reports them.
_CODE_LIMITS = {
    "TotalCodeSize": 80 * 1024**3,
    "CodeSizeUnzipped": 250 * 1024**2,
    "CodeSizeZipped": 50 * 1024**2,
}


class LambdaApiError(JsonRESTError):
    """An error of the Lambda API in its own shape: status, type, message and fields."""

    def __init__(self, status: int, error_type: str, message: str, **fields: str) -> None:
        super().__init__(error_type, message)
        self.code = status
        self.description = json.dumps({**fields, "__type": error_type, "message": message})


def refused_invoke(refused: InvokeRefused) -> LambdaApiError:
    return LambdaApiError(refused.status, refused.error_type, refused.message, **refused.fields)


def _function_name(response: LambdaResponse) -> str:
    return unquote(response.path.rstrip("/").rsplit("/", 2)[-2])


def _put_function_recursion_config(self: LambdaResponse) -> tuple[int, dict[str, str], str]:
    function = self.backend.get_function(_function_name(self))
    value = json.loads(self.body or "{}").get("RecursiveLoop")
    if value not in RECURSIVE_LOOP_VALUES:
        raise LambdaApiError(
            400,
            "ValidationException",
            f"1 validation error detected: Value '{value}' at 'recursiveLoop' failed to satisfy "
            f"constraint: Member must satisfy enum value set: {list(RECURSIVE_LOOP_VALUES)}",
        )
    function.recursive_loop = value  # type: ignore[attr-defined]
    return 200, {}, json.dumps({"RecursiveLoop": value})


def _get_function_recursion_config(self: LambdaResponse) -> tuple[int, dict[str, str], str]:
    function = self.backend.get_function(_function_name(self))
    return 200, {}, json.dumps({"RecursiveLoop": getattr(function, "recursive_loop", "Terminate")})


def _account_settings(runtime: LocalLambda) -> Any:
    def get_account_settings(self: LambdaResponse) -> tuple[int, dict[str, str], str]:
        functions = list(self.backend.list_functions())
        reserved = sum(int(f.reserved_concurrency or 0) for f in functions)
        limit = runtime.account_concurrency
        settings = {
            "AccountLimit": {
                **_CODE_LIMITS,
                "ConcurrentExecutions": limit,
                "UnreservedConcurrentExecutions": max(limit - reserved, 0),
            },
            "AccountUsage": {
                "TotalCodeSize": sum(int(f.code_size or 0) for f in functions),
                "FunctionCount": len(functions),
            },
        }
        return 200, {}, json.dumps(settings)

    return get_account_settings


def install(runtime: LocalLambda) -> None:
    """Route the calls above to this module. Before the server starts: moto builds its URL
    map from ``url_paths`` when it first serves Lambda."""
    for path in _PATHS:
        lambda_urls.url_paths.setdefault(path, LambdaResponse.dispatch)
    LambdaResponse.put_function_recursion_config = _put_function_recursion_config  # type: ignore[attr-defined]
    LambdaResponse.get_function_recursion_config = _get_function_recursion_config  # type: ignore[attr-defined]
    LambdaResponse.get_account_settings = _account_settings(runtime)  # type: ignore[attr-defined]
