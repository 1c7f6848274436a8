"""One Lambda execution environment: imports a handler from an unpacked zip and serves
invocations one at a time, like a warm Lambda container.

Protocol: ``{"ready": true}`` on the protocol pipe once the handler is imported (init),
then one JSON request per line on stdin ({"id", "request_id", "trace_id", "event",
"deadline_ms"}) and one JSON reply per line on the protocol pipe ({"id", "ok", "result"} or
{"id", "ok": false, "errorType", "errorMessage"}). The handler's own stdout (powertools
logs) goes to stderr, so nothing it prints can corrupt the protocol.

Run as a script, not a module, so that the function's directory comes first on sys.path
and the zip's copy of every package wins over anything installed locally.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
import uuid
from typing import Any


class LambdaContext:
    def __init__(self, deadline_ms: int, request_id: str | None = None) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.invoked_function_arn = (
            f"arn:aws:lambda:{region}:123456789012:function:{self.function_name}"
        )
        # Lambda keeps one request id across the retries of an asynchronous invocation.
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(error: BaseException) -> dict[str, Any]:
    return {"ok": False, "errorType": type(error).__name__, "errorMessage": str(error)}


def main() -> int:
    function_dir, handler_path = sys.argv[1], sys.argv[2]
    # Ctrl-C reaches the whole process group; the parent decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the handler's prints and logs go to stderr
    sys.stdout = sys.stderr
    sys.path.insert(0, function_dir)

    module_name, _, attribute = handler_path.rpartition(".")
    handler = None
    init_error: dict[str, Any] | None = None
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
    except Exception as error:  # an init failure is reported on every invocation, like Lambda
        traceback.print_exc()
        init_error = {
            "ok": False,
            "errorType": "Runtime.ImportModuleError",
            "errorMessage": str(error),
        }
    # Init is over: Lambda's function timeout counts from here, not from the process start.
    protocol.write(json.dumps({"ready": True}) + "\n")

    for line in sys.stdin:
        request = json.loads(line)
        if handler is None:
            reply = dict(init_error or {})
        else:
            # Lambda sets the invocation's X-Ray trace header here; the AWS SDKs send it on
            # every call, which is how Lambda tracks recursive loops.
            os.environ["_X_AMZN_TRACE_ID"] = request.get("trace_id") or ""
            try:
                context = LambdaContext(request["deadline_ms"], request.get("request_id"))
                result = handler(request["event"], context)
                reply = {"ok": True, "result": result}
            except Exception as error:
                traceback.print_exc()
                reply = _error(error)
        reply["id"] = request["id"]
        protocol.write(json.dumps(reply, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
