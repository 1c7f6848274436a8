"""The API Gateway Management API (``@connections``), reduced to one call and its outcome.

The send path is lean on purpose: a push makes thousands of these calls, and boto3's
generic per-call machinery (parameter validation, event hooks, response parsing) costs
more CPU than the request itself. Each post is signed with botocore's own ``SigV4Auth``
(so the signature is exactly what boto3 would send) and sent on one pooled urllib3
connection manager per container, with no retries of its own: the caller retries 429/5xx
with backoff and counts every outcome.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import botocore.session
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.httpsession import get_cert_path

from wspush.models.push import Outcome

SERVICE = "execute-api"


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


class ConnectionsApi:
    """POST to ``<endpoint>/@connections/{id}``. Thread-safe; one per container."""

    def __init__(
        self,
        endpoint: str,
        pool_size: int,
        region: str | None = None,
        credentials: Any = None,
    ) -> None:
        self._endpoint = endpoint.rstrip("/")
        self._region = region or os.environ.get("AWS_REGION") or "us-east-1"
        self._credentials = credentials or botocore.session.get_session().get_credentials()
        if self._credentials is None:
            raise RuntimeError("no AWS credentials to sign @connections requests with")
        self._pool = urllib3.PoolManager(
            maxsize=pool_size,
            block=True,  # never more sockets than threads
            retries=False,
            timeout=urllib3.Timeout(connect=3.0, read=5.0),
            ca_certs=os.environ.get("AWS_CA_BUNDLE") or get_cert_path(True),
        )

    def url(self, connection_id: str) -> str:
        return f"{self._endpoint}/@connections/{quote(connection_id, safe='')}"

    def signed_headers(self, url: str, data: bytes) -> dict[str, str]:
        request = AWSRequest(method="POST", url=url, data=data)
        SigV4Auth(self._credentials.get_frozen_credentials(), SERVICE, self._region).add_auth(
            request
        )
        return dict(request.headers.items())

    def post(self, connection_id: str, data: bytes) -> Outcome:
        url = self.url(connection_id)
        try:
            response = self._pool.request(
                "POST", url, body=data, headers=self.signed_headers(url, data), preload_content=True
            )
        except urllib3.exceptions.HTTPError:
            return Outcome.SERVER_ERROR
        return outcome_of_status(response.status)
