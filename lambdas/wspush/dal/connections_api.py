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

import datetime
import hashlib
import hmac
import http.client
import os
import select
import ssl
import threading
from typing import Any
from urllib.parse import quote, urlsplit

import botocore.session
from botocore.httpsession import get_cert_path
from botocore.utils import normalize_url_path

from wspush.models.push import Outcome

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
        self._host = host
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
        canonical_headers = f"host:{self._host}\nx-amz-date:{stamp}\n"
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


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """An idle kept-alive socket that is readable was closed by the server."""
    sock = connection.sock
    if sock is None:
        return False
    # poll, not select: select fails on descriptors above 1024.
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


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

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None and _dropped(connection):
            connection.close()  # http.client reconnects on the next request
        if connection is None:
            if self._https:
                if self._tls is None:
                    cafile = os.environ.get("AWS_CA_BUNDLE") or get_cert_path(True)
                    self._tls = ssl.create_default_context(cafile=cafile)
                connection = http.client.HTTPSConnection(
                    self._host, self._port, timeout=TIMEOUT_SECONDS, context=self._tls
                )
            else:
                connection = http.client.HTTPConnection(
                    self._host, self._port, timeout=TIMEOUT_SECONDS
                )
            self._local.connection = connection
        return connection

    def post(self, connection_id: str, data: bytes) -> Outcome:
        path = self._path(connection_id)
        headers = self._signer.headers(path, data, self._credentials.get_frozen_credentials())
        connection = self._connection()
        try:
            connection.request("POST", path, body=data, headers=headers)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            connection.close()
            return Outcome.SERVER_ERROR
        if response.will_close:
            connection.close()
        return outcome_of_status(response.status)
