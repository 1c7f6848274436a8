"""The API Gateway Management API (``@connections``), reduced to one call and its outcome.

The send path is lean on purpose: a push makes thousands of these calls, and boto3's
generic per-call machinery (parameter validation, event hooks, response parsing) costs
more CPU than the request itself. Each post is signed with SigV4 exactly as botocore's
``SigV4Auth`` signs it (a test holds the two byte for byte), with what repeats from one
post to the next computed once: the signing key once a day, the payload's hash once per
push (every copy of a push is the same body). It is sent on
a persistent standard library HTTP connection owned by the calling thread: a fan-out of N
threads keeps N connections open across invocations. There are no retries here: the
caller retries 429/5xx with backoff and counts every outcome.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import hmac
import os
import select
import socket
import ssl
import threading
from typing import Any
from urllib.parse import quote, urlsplit

import botocore.session
from botocore.httpsession import get_cert_path
from botocore.utils import normalize_url_path

from wspush.models.push import Outcome, PostResult

SERVICE = "execute-api"
TIMEOUT_SECONDS = 5.0
_ALGORITHM = "AWS4-HMAC-SHA256"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _now() -> datetime.datetime:
    """The signing clock (UTC), as botocore reads it."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


class _Signer:
    """SigV4 for one endpoint's POSTs: botocore's ``SigV4Auth`` with what repeats cached.

    The signed headers are ``host``, ``x-amz-date`` and, with temporary credentials,
    ``x-amz-security-token``: exactly those botocore signs for this request. Thread-safe:
    each cache is one tuple, replaced whole.
    """

    def __init__(self, host: str, region: str) -> None:
        self.host = host  # the Host header, as signed
        self._region = region
        self._key: tuple[str, str, bytes] = ("", "", b"")  # (day, secret, signing key)
        self._payload: tuple[bytes | None, str] = (None, "")  # (body, its SHA-256)

    def _signing_key(self, day: str, secret: str) -> bytes:
        cached_day, cached_secret, key = self._key
        if cached_day != day or cached_secret != secret:
            key = _hmac(f"AWS4{secret}".encode(), day)
            for part in (self._region, SERVICE, "aws4_request"):
                key = _hmac(key, part)
            self._key = (day, secret, key)
        return key

    def _payload_hash(self, data: bytes) -> str:
        body, digest = self._payload
        if body is not data and body != data:
            digest = hashlib.sha256(data).hexdigest()
            self._payload = (data, digest)
        return digest

    def headers(self, path: str, data: bytes, credentials: Any) -> dict[str, str]:
        """The headers of a signed POST of ``data`` to ``path`` (as sent: quoted once)."""
        stamp = _now().strftime("%Y%m%dT%H%M%SZ")
        day = stamp[:8]
        token = credentials.token
        canonical_headers = f"host:{self.host}\nx-amz-date:{stamp}\n"
        signed = "host;x-amz-date"
        if token:
            canonical_headers += f"x-amz-security-token:{' '.join(token.split())}\n"
            signed += ";x-amz-security-token"
        canonical_path = quote(normalize_url_path(path), safe="/~")
        canonical_request = (
            f"POST\n{canonical_path}\n\n{canonical_headers}\n{signed}\n{self._payload_hash(data)}"
        )
        scope = f"{day}/{self._region}/{SERVICE}/aws4_request"
        string_to_sign = (
            f"{_ALGORITHM}\n{stamp}\n{scope}\n"
            f"{hashlib.sha256(canonical_request.encode('utf-8')).hexdigest()}"
        )
        signature = hmac.new(
            self._signing_key(day, credentials.secret_key),
            string_to_sign.encode("utf-8"),
            hashlib.sha256,
        ).hexdigest()
        headers = {
            "X-Amz-Date": stamp,
            "Authorization": f"{_ALGORITHM} Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}",
        }
        if token:
            headers["X-Amz-Security-Token"] = token
        return headers


# The error types API Gateway's @connections answers with, by status.
_ERROR_TYPES = {
    400: "BadRequestException",
    403: "ForbiddenException",
    410: "GoneException",
    413: "PayloadTooLargeException",
    429: "LimitExceededException",
}


def outcome_of_status(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome.SENT
    if status == 410:
        return Outcome.GONE
    if status == 429:
        return Outcome.THROTTLED
    if status >= 500:
        return Outcome.SERVER_ERROR
    return Outcome.REJECTED


class _Closed(Exception):
    """The server closed the connection, or answered what is not HTTP/1.x."""


class _Channel:
    """One kept-alive HTTP/1.1 connection: a request goes out in one write, and the
    answer is read with only what a post needs (status, length, whether it closes). It
    replaces ``http.client``, whose header parsing (``email.parser``) and two writes per
    request cost more CPU than the signing."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None) -> None:
        self._address = (host, port)
        self._tls = tls
        self._server_name = host
        self.sock: socket.socket | None = None
        self._buffer = b""

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
        self.sock = None
        self._buffer = b""

    def dropped(self) -> bool:
        """An idle kept-alive socket that is readable was closed by the server."""
        if self.sock is None:
            return False
        # poll, not select: select fails on descriptors above 1024.
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        return bool(poller.poll(0))

    def _open(self) -> socket.socket:
        sock = socket.create_connection(self._address, timeout=TIMEOUT_SECONDS)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_hostname=self._server_name)
        return sock

    def _fill(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise _Closed("the server closed the connection")
        self._buffer += chunk

    def _line(self) -> bytes:
        while (end := self._buffer.find(b"\r\n")) < 0:
            self._fill()
        line, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
        return line

    def _take(self, size: int) -> None:
        while len(self._buffer) < size:
            self._fill()
        self._buffer = self._buffer[size:]

    def exchange(self, request: bytes) -> tuple[int, str]:
        """Send one request and read its whole answer; return the status and the
        ``x-amzn-ErrorType`` header (empty when there is none)."""
        if self.sock is None:
            self.sock = self._open()
        self.sock.sendall(request)
        while (end := self._buffer.find(b"\r\n\r\n")) < 0:
            self._fill()
        head, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
        lines = head.split(b"\r\n")
        version, _, rest = lines[0].partition(b" ")
        if not version.startswith(b"HTTP/1.") or len(rest) < 3 or not rest[:3].isdigit():
            raise _Closed(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        status = int(rest[:3])
        length, chunked, closes = 0, False, version == b"HTTP/1.0"
        error_type = ""
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                closes = value.strip().lower() == b"close"
            elif name == b"x-amzn-errortype":
                error_type = value.strip().decode("latin-1")
        if chunked:
            while (size := int(self._line().split(b";")[0], 16)) > 0:
                self._take(size + 2)
            while self._line():  # trailers, then the blank line
                pass
        elif status not in (204, 304) and length:
            self._take(length)
        if closes:
            self.close()
        return status, error_type


class ConnectionsApi:
    """POST to ``<endpoint>/@connections/{id}``. Thread-safe: one connection per thread."""

    def __init__(self, endpoint: str, region: str | None = None, credentials: Any = None) -> None:
        self._endpoint = endpoint.rstrip("/")
        parts = urlsplit(self._endpoint)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._base_path = parts.path
        self._region = region or os.environ.get("AWS_REGION") or "us-east-1"
        host = self._host
        if self._port is not None and self._port != _DEFAULT_PORTS.get(parts.scheme):
            host = f"{host}:{self._port}"
        self._signer = _Signer(host, self._region)
        self._credentials = credentials or botocore.session.get_session().get_credentials()
        if self._credentials is None:
            raise RuntimeError("no AWS credentials to sign @connections requests with")
        # Created on the first https connection, as botocore does: loading the CA bundle
        # is ~20 ms that an init should not pay before anything is sent.
        self._tls: ssl.SSLContext | None = None
        self._local = threading.local()

    def url(self, connection_id: str) -> str:
        return f"{self._endpoint}/@connections/{quote(connection_id, safe='')}"

    def _path(self, connection_id: str) -> str:
        return f"{self._base_path}/@connections/{quote(connection_id, safe='')}"

    def signed_headers(self, url: str, data: bytes) -> dict[str, str]:
        """The SigV4 headers of a POST of ``data`` to ``url`` (one of ``url()``'s)."""
        return self._signer.headers(
            urlsplit(url).path, data, self._credentials.get_frozen_credentials()
        )

    def _connection(self) -> _Channel:
        connection: _Channel | None = getattr(self._local, "connection", None)
        if connection is not None and connection.dropped():
            connection.close()  # reopened by the next request
        if connection is None:
            if self._https and self._tls is None:
                cafile = os.environ.get("AWS_CA_BUNDLE") or get_cert_path(True)
                self._tls = ssl.create_default_context(cafile=cafile)
            port = self._port or (443 if self._https else 80)
            connection = _Channel(self._host, port, self._tls if self._https else None)
            self._local.connection = connection
        return connection

    def _request(self, path: str, data: bytes, headers: dict[str, str]) -> bytes:
        lines = [
            f"POST {path} HTTP/1.1",
            f"Host: {self._signer.host}",
            f"Content-Length: {len(data)}",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data

    def post(self, connection_id: str, data: bytes) -> Outcome:
        return self.post_detailed(connection_id, data).outcome

    def post_detailed(self, connection_id: str, data: bytes) -> PostResult:
        """Post, and say why a post failed: its HTTP status and error type."""
        path = self._path(connection_id)
        headers = self._signer.headers(path, data, self._credentials.get_frozen_credentials())
        connection = self._connection()
        try:
            status, error_type = connection.exchange(self._request(path, data, headers))
        except (OSError, ValueError, _Closed) as error:
            connection.close()
            return PostResult(Outcome.SERVER_ERROR, None, type(error).__name__)
        outcome = outcome_of_status(status)
        if outcome is Outcome.SENT:
            return PostResult(outcome, status)
        error_type = error_type.split(":")[0].strip()[:64] or _ERROR_TYPES.get(
            status, "InternalServerErrorException" if status >= 500 else "Error"
        )
        return PostResult(outcome, status, error_type)
