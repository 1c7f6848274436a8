"""A stand-in for API Gateway's ``@connections`` endpoint, for tests that need 410/429/5xx.

moto's management API accepts any connection id and never answers 410, so it cannot
exercise stale-connection cleanup or retries. This endpoint answers 200 for live ids,
410 for unknown ones, and a scripted sequence of statuses where a test asks for one.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote


class FakeConnectionsEndpoint:
    def __init__(self, stage: str = "prod") -> None:
        self.stage = stage
        self.live: set[str] = set()
        self.script: dict[str, list[int]] = {}
        self.received: dict[str, list[bytes]] = defaultdict(list)
        self.attempts: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/{self.stage}"

    def start(self) -> FakeConnectionsEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

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
