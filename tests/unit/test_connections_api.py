"""The lean @connections send path signs exactly as boto3's client does."""

from __future__ import annotations

import datetime
import socket
import threading
import time
from unittest import mock

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.credentials import Credentials

from wspush.dal.connections_api import ConnectionsApi, outcome_of_status
from wspush.models.push import Outcome


class EmptyBody:
    @staticmethod
    def stream():
        return [b""]


ENDPOINT = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod"
FROZEN = datetime.datetime(2026, 11, 21, 6, 44, 10)


@pytest.mark.parametrize("session_token", [None, "a-session-token"])
def test_the_signature_is_byte_identical_to_boto3s(session_token):
    credentials = Credentials(
        "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", session_token
    )
    captured = {}

    def capture(request, **_):
        captured["url"] = request.url
        captured["headers"] = {k: v for k, v in request.headers.items()}
        return AWSResponse(request.url, 200, {}, EmptyBody())

    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=session_token,
    )
    client.meta.events.register("before-send", capture)
    lean = ConnectionsApi(ENDPOINT, region="us-east-1", credentials=credentials)
    data = b'{"type":"notification","data":"h\xc3\xa9"}'

    with (
        mock.patch("botocore.auth.datetime") as clock,
        mock.patch("botocore.auth.get_current_datetime", return_value=FROZEN),
        mock.patch("wspush.dal.connections_api._now", return_value=FROZEN),
    ):
        clock.datetime.now.return_value = FROZEN
        clock.datetime.utcnow.return_value = FROZEN
        client.post_to_connection(ConnectionId="Tq7QmcfmIAMCJBA=", Data=data)
        url = lean.url("Tq7QmcfmIAMCJBA=")
        headers = lean.signed_headers(url, data)

    assert url == captured["url"]
    boto_headers = {
        k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in captured["headers"].items()
    }
    assert headers["Authorization"] == boto_headers["authorization"]
    assert headers["X-Amz-Date"] == boto_headers["x-amz-date"]
    if session_token:
        assert headers["X-Amz-Security-Token"] == session_token


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.SENT),
        (410, Outcome.GONE),
        (429, Outcome.THROTTLED),
        (500, Outcome.SERVER_ERROR),
        (503, Outcome.SERVER_ERROR),
        (403, Outcome.REJECTED),
        (413, Outcome.REJECTED),
    ],
)
def test_status_codes_map_to_outcomes(status, outcome):
    assert outcome_of_status(status) is outcome


def test_an_unreachable_endpoint_is_a_retryable_server_error():
    api = ConnectionsApi("http://127.0.0.1:9/prod", credentials=Credentials("a", "b"))
    assert api.post("x", b"{}") is Outcome.SERVER_ERROR


def test_a_kept_alive_connection_the_server_dropped_is_reopened():
    # Given a server that answers one request per connection with keep-alive, then hangs up
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted = []

    def serve():
        for _ in range(2):
            client, _ = listener.accept()
            accepted.append(client)
            client.recv(65536)
            client.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            client.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    api = ConnectionsApi(f"http://127.0.0.1:{port}/prod", credentials=Credentials("a", "b"))
    # When two posts go out on the same thread, the second after the server hung up
    first = api.post("one", b"{}")
    time.sleep(0.1)
    second = api.post("two", b"{}")
    thread.join(5)
    listener.close()
    # Then both are sent, the second on a new connection
    assert (first, second) == (Outcome.SENT, Outcome.SENT)
    assert len(accepted) == 2


@pytest.mark.parametrize(
    ("endpoint", "connection_id"),
    [
        ("http://127.0.0.1:8081/local", "a+b/c=="),
        ("https://x.execute-api.eu-west-1.amazonaws.com:443/prod", "Tq7QmcfmIAMCJBA="),
    ],
)
def test_cached_signing_keys_and_payload_hashes_sign_as_botocore_does_day_after_day(
    endpoint, connection_id
):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = Credentials("AKIDEXAMPLE", "secret", "token")
    lean = ConnectionsApi(endpoint, region="eu-west-1", credentials=credentials)
    url = lean.url(connection_id)
    for day, data in ((21, b'{"a":1}'), (21, b'{"b":2}'), (22, b'{"b":2}'), (22, b'{"b":2}')):
        at = datetime.datetime(2026, 11, day, 23, 59, 59)
        request = AWSRequest(method="POST", url=url, data=data)
        with mock.patch("botocore.auth.get_current_datetime", return_value=at):
            SigV4Auth(credentials, "execute-api", "eu-west-1").add_auth(request)
        with mock.patch("wspush.dal.connections_api._now", return_value=at):
            headers = lean.signed_headers(url, data)
        assert headers["Authorization"] == request.headers["Authorization"]
        assert headers["X-Amz-Date"] == request.headers["X-Amz-Date"]


def _serve(answers):
    """A server that answers each request with the next raw bytes of ``answers`` (sent a
    few bytes at a time), on as many connections as the client opens."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    requests = []
    connections = []

    def serve():
        pending = list(answers)
        while pending:
            client, _ = listener.accept()
            connections.append(client)
            while pending:
                data = client.recv(65536)
                if not data:
                    break
                requests.append(data)
                answer = pending.pop(0)
                for start in range(0, len(answer), 7):
                    client.sendall(answer[start : start + 7])
                    time.sleep(0.001)
                if b"Connection: close" in answer:
                    client.close()
                    break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread, requests, connections


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", Outcome.SENT),
        (
            b"HTTP/1.1 410 Gone\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n"
            b'{"message": "Gone"}\n',
            Outcome.GONE,
        ),
        (
            b"HTTP/1.1 429 Too Many\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\n\r\n",
            Outcome.THROTTLED,
        ),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", Outcome.SENT),
        (b"HTTP/1.0 503 Unavailable\r\nContent-Length: 0\r\n\r\n", Outcome.SERVER_ERROR),
    ],
)
def test_each_answer_is_read_whole_and_the_next_post_follows_on_a_clean_connection(answer, outcome):
    # Given a server that answers the first post with ``answer`` and the second with a 200
    listener, thread, requests, _ = _serve(
        [answer, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]
    )
    port = listener.getsockname()[1]
    api = ConnectionsApi(f"http://127.0.0.1:{port}/prod", credentials=Credentials("a", "b"))
    # When two posts go out one after the other
    first = api.post("c=1", b'{"n":1}')
    second = api.post("c2", b'{"n":2}')
    thread.join(5)
    listener.close()
    # Then the first answer is the outcome, and the second post is read as its own 200
    assert (first, second) == (outcome, Outcome.SENT)
    head, _, body = requests[0].partition(b"\r\n\r\n")
    assert head.startswith(b"POST /prod/@connections/c%3D1 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{port}".encode() in head and b"Content-Length: 7" in head
    assert body == b'{"n":1}'


def test_a_garbled_answer_is_a_retryable_server_error():
    listener, thread, _, _ = _serve([b"SSH-2.0-OpenSSH\r\n\r\n"])
    api = ConnectionsApi(
        f"http://127.0.0.1:{listener.getsockname()[1]}/prod", credentials=Credentials("a", "b")
    )
    assert api.post("x", b"{}") is Outcome.SERVER_ERROR
    thread.join(5)
    listener.close()
