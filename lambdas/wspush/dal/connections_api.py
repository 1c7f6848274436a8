"""The API Gateway Management API (``@connections``), reduced to one call and its outcome.

The send path is lean on purpose: a push makes thousands of these calls, and boto3's
generic per-call machinery (parameter validation, event hooks, response parsing) costs
more CPU than the request itself. Each post is signed with botocore's own ``SigV4Auth``
(so the signature is exactly what boto3 would send) and sent on a persistent standard
library HTTP connection owned by the calling thread: a fan-out of N threads keeps N
connections open across invocations. There are no retries here: the caller retries
429/5xx with backoff and counts every outcome.
"""

from __future__ import annotations

import http.client
import os
import select
import ssl
import threading
from typing import Any
from urllib.parse import quote, urlsplit

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.httpsession import get_cert_path

from wspush.models.push import Outcome, PostResult

SERVICE = "execute-api"
TIMEOUT_SECONDS = 5.0


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
        self._credentials = credentials or botocore.session.get_session().get_credentials()
        if self._credentials is None:
            raise RuntimeError("no AWS credentials to sign @connections requests with")
        # Created on the first https connection, as botocore does: loading the CA bundle
        # is ~20 ms that an init should not pay before anything is sent.
        self._tls: ssl.SSLContext | None = None
        self._local = threading.local()

    def url(self, connection_id: str) -> str:
        return f"{self._endpoint}/@connections/{quote(connection_id, safe='')}"

    def signed_headers(self, url: str, data: bytes) -> dict[str, str]:
        request = AWSRequest(method="POST", url=url, data=data)
        SigV4Auth(self._credentials.get_frozen_credentials(), SERVICE, self._region).add_auth(
            request
        )
        return dict(request.headers.items())

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
        return self.post_detailed(connection_id, data).outcome

    def post_detailed(self, connection_id: str, data: bytes) -> PostResult:
        """Post, and say why a post failed: its HTTP status and error type."""
        url = self.url(connection_id)
        path = f"{self._base_path}/@connections/{quote(connection_id, safe='')}"
        connection = self._connection()
        try:
            connection.request("POST", path, body=data, headers=self.signed_headers(url, data))
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            return PostResult(Outcome.SERVER_ERROR, None, type(error).__name__)
        if response.will_close:
            connection.close()
        outcome = outcome_of_status(response.status)
        if outcome is Outcome.SENT:
            return PostResult(outcome, response.status)
        error_type = response.getheader("x-amzn-ErrorType") or ""
        error_type = error_type.split(":")[0].strip()[:64] or _ERROR_TYPES.get(
            response.status, "InternalServerErrorException" if response.status >= 500 else "Error"
        )
        return PostResult(outcome, response.status, error_type)
