"""Stand-ins for what tests cannot get from moto.

API Gateway's ``@connections`` endpoint, for tests that need 410/429/5xx: moto's management
API accepts any connection id and never answers 410, so it cannot exercise stale-connection
cleanup or retries. This endpoint answers 200 for live ids, 410 for unknown ones, and a
scripted sequence of statuses where a test asks for one. Lambda's Invoke API, answering as
a test scripts it. And, for unit tests, the connections table and the sender in memory.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import unquote

from wspush.models.connection import DeletedRow, Target
from wspush.models.push import Outcome
from wspush.models.shard import ItemKey


class _LocalServer:
    """An HTTP server on a free local port, served from a daemon thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError


class FakeConnectionsEndpoint(_LocalServer):
    def __init__(self, stage: str = "prod") -> None:
        self.stage = stage
        self.live: set[str] = set()
        self.script: dict[str, list[int]] = {}
        self.received: dict[str, list[bytes]] = defaultdict(list)
        self.attempts: dict[str, int] = defaultdict(int)
        super().__init__()

    @property
    def url(self) -> str:
        return f"{self.base_url}/{self.stage}"

    def reset(self) -> None:
        with self._lock:
            self.live.clear()
            self.script.clear()
            self.received.clear()
            self.attempts.clear()

    def _answer(self, connection_id: str, body: bytes) -> int:
        with self._lock:
            self.attempts[connection_id] += 1
            queue = self.script.get(connection_id)
            if queue:
                return queue.pop(0)
            if connection_id not in self.live:
                return 410
            self.received[connection_id].append(body)
            return 200

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self
        prefix = f"/{self.stage}/@connections/"

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if not self.path.startswith(prefix):
                    self.send_error(404)
                    return
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                status = endpoint._answer(unquote(self.path[len(prefix) :]), body)
                payload = b"" if status == 200 else b'{"message":"scripted"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler


class FakeLambdaEndpoint(_LocalServer):
    """The Lambda Invoke API (``POST /2015-03-31/functions/{name}/invocations``), answering
    as a test scripts it: a report for synchronous calls, 202 for events, or an error."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, object]]] = []  # (function, type, payload)
        # Each entry answers one call: (status, error type or None, delay in seconds).
        self.script: list[tuple[int, str | None, float]] = []
        # The error a synchronous call's function raises (errorType, errorMessage), if any.
        self.function_error: dict[str, str] | None = None
        # What a synchronous call answers instead of a delivery report, if anything.
        self.answer: dict[str, object] | None = None
        super().__init__()

    @property
    def url(self) -> str:
        return self.base_url

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.script.clear()
            self.function_error = None
            self.answer = None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                function = unquote(self.path.split("/functions/")[1].split("/")[0])
                invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with endpoint._lock:
                    endpoint.calls.append((function, invocation_type, payload))
                    status, error_type, delay = (
                        endpoint.script.pop(0) if endpoint.script else (0, None, 0.0)
                    )
                time.sleep(delay)
                headers: dict[str, str] = {}
                if error_type:
                    body = json.dumps({"Type": "User", "message": error_type}).encode()
                    headers["x-amzn-ErrorType"] = error_type
                elif invocation_type == "Event":
                    status, body = 202, b""
                elif endpoint.function_error:
                    status = 200
                    body = json.dumps(endpoint.function_error).encode()
                    headers["X-Amz-Function-Error"] = "Unhandled"
                else:
                    status = 200
                    report = {"targeted": 2, "sent": 2, "gone": 0, "failed": 0, "throttled": 0}
                    body = json.dumps(endpoint.answer or report).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler


class ScriptedSender:
    """Answers each connection with its scripted outcomes, then SENT."""

    def __init__(self, script=None):
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.posts: list[tuple[str, bytes]] = []

    def post(self, connection_id, data):
        self.posts.append((connection_id, data))
        queue = self.script.get(connection_id)
        return queue.pop(0) if queue else Outcome.SENT


class MemoryStore:
    """The connections table's reads and deletes over a set of rows, in key order, with
    DynamoDB's paging (``Limit`` items, then a key to continue after)."""

    def __init__(self, rows, connected_at=None):
        self.rows = set(rows)  # (partition, connection)
        self.connected_at = connected_at or {}

    def _target(self, partition, connection):
        owner = "owner" if partition.startswith("topic#") else None
        return Target(partition, connection, owner, self.connected_at.get(connection, 0))

    def target_page(self, shard, limit, now):
        if shard.partition is None:
            keys = sorted(r for r in self.rows if not r[0].startswith("topic#"))
            keys = [k for i, k in enumerate(keys) if i % shard.total_segments == shard.segment]
        else:
            keys = sorted(r for r in self.rows if r[0] == shard.partition)
            if shard.through is not None:
                keys = [k for k in keys if k[1] <= shard.through]
        if shard.after is not None:
            after = (shard.after.partition_key, shard.after.connection_id)
            keys = [k for k in keys if k > after]
        page = keys[:limit]
        next_key = ItemKey(*page[-1]) if len(keys) > limit else None
        return [self._target(p, c) for p, c in page], next_key

    def connection_targets(self, connection_id):
        return [self._target(p, c) for p, c in sorted(self.rows) if c == connection_id]

    def rows_of_connection(self, connection_id):
        return [(p, c) for p, c in sorted(self.rows) if c == connection_id]

    def delete_row(self, partition_key, connection_id, written_before=None):
        if written_before is not None and self.connected_at.get(connection_id, 0) >= written_before:
            return None
        if (partition_key, connection_id) not in self.rows:
            return None
        self.rows.discard((partition_key, connection_id))
        return DeletedRow(partition_key)


class PartitionGate(MemoryStore):
    """Opens ``all_started`` once every one of ``partitions`` has begun its first read."""

    def __init__(self, rows, partitions):
        super().__init__(rows)
        self.waiting = set(partitions)
        self.lock = threading.Lock()
        self.all_started = threading.Event()

    def target_page(self, shard, limit, now):
        with self.lock:
            self.waiting.discard(shard.partition)
            if not self.waiting:
                self.all_started.set()
        return super().target_page(shard, limit, now)
