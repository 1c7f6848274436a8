"""Publish pushes from a backend: ``POST /publish`` signed with SigV4 or a bearer token.

Every message gets an idempotency id before its first attempt (yours, or a random one),
and every retry sends the very same body with that id, so a retry after a timeout can
never deliver a push twice: the push function numbers and sends each id once. Retried:
429, 5xx and network errors or timeouts, with capped exponential backoff and full jitter
(a ``Retry-After`` answer is honoured). Not retried: the answers only the caller can fix,
each raised as its own exception (400, 401/403, 409, 413).

Runtime dependencies: the standard library's ``http.client``, and botocore for SigV4.
"""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.session import get_session

from wspush.models.publish import Status
from wspush.models.push import DeliveryReport
from wspush.sdk.backoff import backoff_delay

# 429 from API Gateway's throttling, 5xx from API Gateway or from a push function that
# could not be started (503): nothing was sent, so the same body may go again.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class Auth(Protocol):
    """Adds credentials to one attempt's headers (called again for every attempt)."""

    def headers(self, url: str, body: bytes, headers: Mapping[str, str]) -> dict[str, str]: ...


def _headers(auth: Auth, url: str, body: bytes, headers: Mapping[str, str], method: str) -> Any:
    """An auth's headers for ``method``: ``SigV4`` signs the method; a POST-only auth (one
    without a ``method`` parameter) serves POST."""
    if method == "POST":
        return auth.headers(url, body, headers)
    return auth.headers(url, body, headers, method=method)  # type: ignore[call-arg]


@dataclass(frozen=True)
class SigV4:
    """IAM auth (the publish route's default): SigV4 for ``execute-api`` in ``region``.

    ``credentials`` default to botocore's chain (environment, profile, role), resolved
    once and refreshed by botocore when they are temporary.
    """

    region: str
    credentials: Credentials | None = None
    service: str = "execute-api"

    def headers(
        self, url: str, body: bytes, headers: Mapping[str, str], method: str = "POST"
    ) -> dict[str, str]:
        credentials = self.credentials or _default_credentials()
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
        SigV4Auth(credentials, self.service, self.region).add_auth(request)
        return dict(request.prepare().headers.items())


def _default_credentials() -> Credentials:
    credentials = get_session().get_credentials()
    if credentials is None:
        raise PublishError(0, "no_credentials", "botocore found no AWS credentials to sign with")
    resolved: Credentials = credentials
    return resolved


@dataclass(frozen=True)
class Bearer:
    """JWT auth (``publish_jwt_issuer``): ``token_provider`` is called for every attempt,
    so it may cache a token and refresh it before it expires."""

    token_provider: Callable[[], str]

    def headers(
        self, url: str, body: bytes, headers: Mapping[str, str], method: str = "POST"
    ) -> dict[str, str]:
        return {**headers, "authorization": f"Bearer {self.token_provider()}"}


@dataclass(frozen=True)
class Message:
    """One push request: exactly one audience (``entity``, ``topic``, ``connection`` or
    ``broadcast=True``), a ``type``, any JSON ``payload``; ``id`` is the idempotency key
    and envelope id (generated when left out); ``exclude_connection`` skips the sender."""

    entity: str | None = None
    topic: str | None = None
    connection: str | None = None
    broadcast: bool = False
    type: str = "notification"
    payload: Any = None
    id: str | None = None
    exclude_connection: str | None = None

    def request(self, message_id: str) -> dict[str, Any]:
        """The push request the publish API takes, with ``message_id`` as its id."""
        body: dict[str, Any] = {"type": self.type, "payload": self.payload, "id": message_id}
        audiences = {
            "entityId": self.entity,
            "topic": self.topic,
            "connectionId": self.connection,
            "broadcast": True if self.broadcast else None,
        }
        body.update({key: value for key, value in audiences.items() if value is not None})
        if self.exclude_connection is not None:
            body["excludeConnectionId"] = self.exclude_connection
        return body


@dataclass(frozen=True)
class PublishResult:
    """What happened to one message. The push ran while you waited and ``report`` is
    final: ``delivered`` (every connection was sent it), ``partial`` (some failed),
    ``no_recipients`` (nobody was connected). ``accepted``: it runs in the background; its
    outcome is in its trace (``Publisher.trace(id)``). ``failed``: nothing was sent (the push
    function could not be started, or no connection could be sent to: ``report`` says
    which); publishing the message again with the same ``id`` is safe."""

    id: str
    status: Status
    report: DeliveryReport | None = None
    reason: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status is Status.DELIVERED

    @property
    def accepted(self) -> bool:
        return self.status is Status.ACCEPTED

    @property
    def failed(self) -> bool:
        return self.status is Status.FAILED

    @property
    def partial(self) -> bool:
        return self.status is Status.PARTIAL

    @property
    def no_recipients(self) -> bool:
        return self.status is Status.NO_RECIPIENTS


@dataclass(frozen=True)
class FieldError:
    """One invalid message: its ``index`` in the batch (None for a single message)."""

    message: str
    index: int | None = None


class PublishError(Exception):
    """The publish API refused the request. ``status`` is the HTTP status (0 when no
    answer came), ``code`` the API's error code, ``body`` the decoded answer."""

    def __init__(self, status: int, code: str, message: str, body: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}" if status else f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body


class InvalidRequest(PublishError):
    """400: malformed JSON, an invalid message, too many messages. Nothing was sent;
    ``errors`` names each invalid message."""

    def __init__(self, status: int, code: str, message: str, body: Any = None) -> None:
        super().__init__(status, code, message, body)
        raw = body.get("errors") if isinstance(body, dict) else None
        self.errors = [
            FieldError(str(error.get("message", "")), error.get("index"))
            for error in (raw if isinstance(raw, list) else [])
            if isinstance(error, dict)
        ]


class NotAuthorized(PublishError):
    """401 or 403: a missing, bad or expired signature or token, or a caller without
    ``execute-api:Invoke`` on the route (``publish_caller_policy_json``)."""


class IdConflict(PublishError):
    """409 ``id_conflict``: this id already names a different push (another channel);
    choose a new id for a new message."""


class TooLarge(PublishError):
    """413: the body, or a message's envelope, is over the limit (128 KB a message)."""


class RetriesExhausted(PublishError):
    """429, 5xx or no answer on every attempt. ``ids`` are the messages' ids: publishing
    them again with the same ids delivers each at most once."""

    def __init__(self, status: int, code: str, message: str, body: Any, ids: Sequence[str]) -> None:
        super().__init__(status, code, message, body)
        self.ids = list(ids)


_ERRORS: dict[int, type[PublishError]] = {
    400: InvalidRequest,
    401: NotAuthorized,
    403: NotAuthorized,
    409: IdConflict,
    413: TooLarge,
}


@dataclass
class RetryPolicy:
    """``max_attempts`` in all; the n-th retry waits a random time below
    ``min(max_delay, base_delay * 2**n)`` seconds."""

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)


def new_message_id() -> str:
    """A random idempotency id (the push API takes 1-128 of letters, digits, ``_.:@+=/-``)."""
    return str(uuid.uuid4())


class Publisher:
    """A client of one deployment's ``POST /publish`` (the ``publish_url`` output).

    >>> publisher = Publisher(publish_url, auth=SigV4(region="eu-west-1"))
    >>> result = publisher.publish(entity="alice", type="order.shipped", payload={"id": 42})
    >>> result.delivered, result.report
    """

    def __init__(
        self,
        url: str,
        auth: Auth,
        *,
        timeout: float = 15.0,
        retry: RetryPolicy | None = None,
        new_id: Callable[[], str] = new_message_id,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the publish URL must be http(s)://host/...: {url!r}")
        self.url = url
        self.auth = auth
        # The API waits up to 10 s for a small audience's report; the default leaves room.
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.new_id = new_id

    def publish(
        self,
        *,
        entity: str | None = None,
        topic: str | None = None,
        connection: str | None = None,
        broadcast: bool = False,
        type: str = "notification",
        payload: Any = None,
        id: str | None = None,
        exclude_connection: str | None = None,
    ) -> PublishResult:
        """Publish one message; see ``Message`` for the fields."""
        message = Message(
            entity, topic, connection, broadcast, type, payload, id, exclude_connection
        )
        message_id = message.id or self.new_id()
        answer = self._send(message.request(message_id), [message_id])
        return _result(answer)

    def publish_batch(self, messages: Sequence[Message]) -> list[PublishResult]:
        """Publish up to ten messages in one request; one result each, in order. If any
        message is invalid, none is sent (``InvalidRequest`` lists each problem)."""
        ids = [message.id or self.new_id() for message in messages]
        document = {
            "messages": [
                message.request(message_id)
                for message, message_id in zip(messages, ids, strict=True)
            ]
        }
        answer = self._send(document, ids)
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list):
            raise PublishError(200, "unexpected_answer", "a batch answer has no results", answer)
        return [_result(result) for result in results]

    def trace(self, message_id: str) -> dict[str, Any] | None:
        """The push's trace (``GET <publish_url>/<id>``, the same auth): its status, the
        audience resolved, each connection attempted with outcome and timing, and the
        acknowledgements; None when none is kept (unknown id, or past the history window)."""
        url = f"{self.url.rstrip('/')}/{quote(message_id, safe='')}"
        try:
            status, answer, _ = self._request("GET", url, b"")
        except (OSError, http.client.HTTPException) as error:
            raise PublishError(0, "no_answer", str(error)) from error
        if status == 404:
            return None
        if status != 200 or not isinstance(answer, dict):
            raise _error(status, answer)
        return answer

    def _send(self, document: Any, ids: Sequence[str]) -> Any:
        body = json.dumps(document, separators=(",", ":")).encode()
        attempt = 0
        while True:
            attempt += 1
            try:
                status, answer, retry_after = self._post(body)
            except (OSError, http.client.HTTPException) as error:
                status, answer, retry_after = 0, {"error": "no_answer", "message": str(error)}, None
            if status in (200, 202):
                return answer
            if status != 0 and status not in RETRYABLE_STATUSES:
                raise _error(status, answer)
            if attempt >= self.retry.max_attempts:
                code, message = _code_and_message(status, answer)
                raise RetriesExhausted(
                    status, code, f"{message} (after {attempt} attempts)", answer, ids
                )
            delay = backoff_delay(attempt - 1, self.retry.base_delay, self.retry.max_delay)
            self.retry.sleep(max(delay, retry_after or 0.0))

    def _post(self, body: bytes) -> tuple[int, Any, float | None]:
        return self._request("POST", self.url, body)

    def _request(self, method: str, url: str, body: bytes) -> tuple[int, Any, float | None]:
        parts = urlsplit(url)
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        content = {"content-type": "application/json"} if method == "POST" else {}
        headers = _headers(self.auth, url, body, content, method)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection = connection_class(parts.netloc, timeout=self.timeout)
        try:
            connection.request(method, path or "/", body=body or None, headers=headers)
            response = connection.getresponse()
            data = response.read()
            retry_after = response.getheader("retry-after")
        finally:
            connection.close()
        try:
            answer = json.loads(data) if data else None
        except ValueError:
            answer = {"message": data.decode(errors="replace")}
        return response.status, answer, _seconds(retry_after)


def _seconds(header: str | None) -> float | None:
    try:
        return float(header) if header is not None else None
    except ValueError:
        return None  # an HTTP date: the backoff applies


def _code_and_message(status: int, answer: Any) -> tuple[str, str]:
    if isinstance(answer, dict):
        code = answer.get("error") or answer.get("status") or f"http_{status}"
        message = answer.get("message") or answer.get("reason") or ""
        return str(code), str(message)
    return f"http_{status}", ""


def _error(status: int, answer: Any) -> PublishError:
    code, message = _code_and_message(status, answer)
    return _ERRORS.get(status, PublishError)(status, code, message, answer)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _result(answer: Any) -> PublishResult:
    if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
        raise PublishError(200, "unexpected_answer", "an answer without an id", answer)
    try:
        status = Status(answer.get("status"))
    except ValueError:
        raise PublishError(200, "unexpected_answer", "an unknown status", answer) from None
    raw = answer.get("report")
    report = None
    if isinstance(raw, dict):
        counts = {name: raw.get(name) for name in DeliveryReport().as_dict()}
        report = DeliveryReport(
            targeted=_count(counts["targeted"]),
            sent=_count(counts["sent"]),
            gone=_count(counts["gone"]),
            failed=_count(counts["failed"]),
            throttled=_count(counts["throttled"]),
        )
    reason = answer.get("reason")
    return PublishResult(answer["id"], status, report, reason if isinstance(reason, str) else None)
