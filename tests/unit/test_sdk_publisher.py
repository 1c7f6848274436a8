"""The SDK's Publisher against a scripted HTTP server: ids, retries, errors, results."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.credentials import Credentials

from wspush.sdk import (
    Bearer,
    IdConflict,
    InvalidRequest,
    Message,
    NotAuthorized,
    Publisher,
    RetriesExhausted,
    RetryPolicy,
    SigV4,
    Status,
    TooLarge,
)
from wspush_local.gateway.sigv4 import SigV4Verifier


@dataclass
class Answer:
    status: int
    body: Any = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class ScriptedServer:
    """Answers each POST with the next scripted answer (the last one repeats)."""

    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.requests: list[tuple[dict[str, str], bytes]] = []
        release = threading.Event()
        self.release = release
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                answer = outer.answers[min(len(outer.requests), len(outer.answers)) - 1]
                if answer.delay:
                    release.wait(answer.delay)
                data = json.dumps(answer.body).encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/local/publish"

    def bodies(self) -> list[Any]:
        return [json.loads(body) for _, body in self.requests]


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    thread = threading.Thread(target=scripted.server.serve_forever, daemon=True)
    thread.start()
    yield scripted
    scripted.release.set()
    scripted.server.shutdown()
    scripted.server.server_close()


SLEEPS: list[float] = []


def _publisher(url: str, **options: Any) -> Publisher:
    SLEEPS.clear()
    options.setdefault("retry", RetryPolicy(max_attempts=4, sleep=SLEEPS.append))
    options.setdefault("auth", Bearer(lambda: "a-token"))
    return Publisher(url, **options)


def delivered(message_id: str = "m-1") -> dict[str, Any]:
    report = {"targeted": 2, "sent": 1, "gone": 1, "failed": 0, "throttled": 0}
    return {"id": message_id, "status": "delivered", "report": report}


def test_a_delivered_push_gives_its_typed_report(server) -> None:
    server.answers = [Answer(200, delivered("order-1"))]
    result = _publisher(server.url).publish(
        entity="alice", type="order.shipped", payload={"n": 1}, id="order-1"
    )
    assert result.delivered and not result.accepted and result.status is Status.DELIVERED
    assert result.report is not None
    assert (result.report.targeted, result.report.sent, result.report.gone) == (2, 1, 1)
    assert server.bodies() == [
        {"type": "order.shipped", "payload": {"n": 1}, "id": "order-1", "entityId": "alice"}
    ]
    assert server.requests[0][0]["authorization"] == "Bearer a-token"


def test_every_message_gets_an_id_before_the_first_attempt(server) -> None:
    server.answers = [Answer(202, {"id": "x", "status": "accepted"})]
    _publisher(server.url).publish(broadcast=True, payload="hi")
    body = server.bodies()[0]
    assert body["broadcast"] is True and len(body["id"]) == 36


def test_retries_on_429_5xx_and_timeouts_reuse_the_same_id_and_body(server) -> None:
    # Given a server that throttles, fails, then hangs past the client's timeout, then answers
    server.answers = [
        Answer(429, {"message": "Too Many Requests"}),
        Answer(503, {"id": "?", "status": "failed", "reason": "throttled"}),
        Answer(200, delivered(), delay=2.0),
        Answer(200, delivered()),
    ]
    # When one message is published
    result = _publisher(server.url, timeout=0.5).publish(topic="news", payload=1)
    # Then it was sent four times, byte for byte the same (same id), with backoff between
    assert result.delivered
    bodies = [body for _, body in server.requests]
    assert len(bodies) == 4 and len(set(bodies)) == 1
    assert len(SLEEPS) == 3
    assert all(0 <= delay <= cap for delay, cap in zip(SLEEPS, [0.5, 1.0, 2.0], strict=True))


def test_retry_after_is_honoured(server) -> None:
    server.answers = [
        Answer(429, {"message": "slow down"}, headers={"retry-after": "3"}),
        Answer(200, delivered()),
    ]
    _publisher(server.url).publish(entity="alice")
    assert SLEEPS == [3.0]


def test_it_gives_up_after_max_attempts_naming_the_ids(server) -> None:
    server.answers = [Answer(500, {"message": "Internal Server Error"})]
    with pytest.raises(RetriesExhausted) as raised:
        _publisher(server.url).publish(entity="alice", id="keep-me")
    assert raised.value.status == 500 and raised.value.ids == ["keep-me"]
    assert "after 4 attempts" in str(raised.value)
    assert len(server.requests) == 4


def test_no_answer_at_all_is_retried_then_reported() -> None:
    publisher = _publisher("http://127.0.0.1:9/local/publish")  # nothing listens
    with pytest.raises(RetriesExhausted) as raised:
        publisher.publish(entity="alice")
    assert raised.value.status == 0 and raised.value.code == "no_answer"
    assert len(SLEEPS) == 3


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (
            400,
            {
                "error": "invalid_request",
                "message": "messages[1]: bad",
                "errors": [{"index": 1, "message": "bad"}],
            },
            InvalidRequest,
        ),
        (401, {"message": "Unauthorized"}, NotAuthorized),
        (403, {"message": "The security token included in the request is invalid."}, NotAuthorized),
        (409, {"error": "id_conflict", "message": "id o-1 names another push"}, IdConflict),
        (413, {"error": "too_large", "message": "over 128 KB"}, TooLarge),
    ],
)
def test_answers_only_the_caller_can_fix_raise_at_once(server, status, body, error) -> None:
    server.answers = [Answer(status, body)]
    with pytest.raises(error) as raised:
        _publisher(server.url).publish(entity="alice")
    assert raised.value.status == status
    assert raised.value.message == body["message"]
    assert len(server.requests) == 1 and SLEEPS == []
    if status == 400:
        assert [(e.index, e.message) for e in raised.value.errors] == [(1, "bad")]
    if status == 409:
        assert raised.value.code == "id_conflict"


def test_a_batch_answers_one_result_per_message_in_order(server) -> None:
    server.answers = [
        Answer(
            202,
            {
                "results": [
                    delivered("a"),
                    {"id": "b", "status": "accepted"},
                    {"id": "c", "status": "failed", "reason": "the push function is throttled"},
                ]
            },
        )
    ]
    results = _publisher(server.url).publish_batch(
        [
            Message(entity="alice", id="a"),
            Message(topic="kitchen", type="ticket", payload={"o": 1}, id="b"),
            Message(connection="Yc1", exclude_connection="Yc2", id="c"),
        ]
    )
    assert [(r.id, r.status) for r in results] == [
        ("a", Status.DELIVERED),
        ("b", Status.ACCEPTED),
        ("c", Status.FAILED),
    ]
    assert results[2].failed and results[2].reason == "the push function is throttled"
    assert server.bodies()[0]["messages"][2] == {
        "type": "notification",
        "payload": None,
        "id": "c",
        "connectionId": "Yc1",
        "excludeConnectionId": "Yc2",
    }


def test_sigv4_signs_every_attempt_for_execute_api(server) -> None:
    server.answers = [Answer(502, {"message": "Bad Gateway"}), Answer(200, delivered())]
    auth = SigV4(region="us-east-1", credentials=Credentials("local", "local"))
    _publisher(server.url, auth=auth).publish(entity="alice")
    verifier = SigV4Verifier({"local": "local"}, "us-east-1", "000000000000")
    assert len(server.requests) == 2
    for headers, body in server.requests:
        assert "/us-east-1/execute-api/aws4_request" in headers["authorization"]
        # the local publish API's own verifier accepts each attempt's signature
        caller = verifier.verify("POST", server.url, headers, body)
        assert caller.access_key == "local"


def test_a_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(ValueError, match="http"):
        Publisher("ftp://example.com/publish", auth=Bearer(lambda: "t"))
