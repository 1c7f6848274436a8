"""What a publish call answers: one result per message, and the errors a caller can fix."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Status(enum.Enum):
    # The push ran while the caller waited (the report is final): ``models.push.PushStatus``.
    DELIVERED = "delivered"  # every connection attempted was sent the push
    PARTIAL = "partial"  # some were sent, some failed
    NO_RECIPIENTS = "no_recipients"  # nobody to send to
    ACCEPTED = "accepted"  # the push runs in the background (or still runs): 202
    # Nothing was sent: the push function could not be reached (no report), or it ran and
    # no connection could be sent to (its report says why).
    FAILED = "failed"
    CONFLICT = "conflict"  # the id was used on this audience by a push with other content

    @property
    def metric(self) -> str:
        """``PublishNoRecipients`` for ``no_recipients``."""
        return "Publish" + "".join(word.capitalize() for word in self.value.split("_"))


@dataclass(frozen=True)
class MessageResult:
    """The outcome of one message of a publish call."""

    message_id: str
    status: Status
    report: dict[str, Any] | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"id": self.message_id, "status": self.status.value}
        if self.report is not None:
            result["report"] = self.report
        if self.status is Status.CONFLICT:
            result["error"] = "id_conflict"
        if self.reason is not None:
            result["reason"] = self.reason
        return result


@dataclass(frozen=True)
class FieldError:
    """One invalid message of a batch (``index`` is None for a single request)."""

    message: str
    index: int | None = None
    too_large: bool = False
    message_id: str | None = None  # the id in conflict, for an id_conflict

    def as_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message}
        if self.index is not None:
            error["index"] = self.index
        if self.message_id is not None:
            error["id"] = self.message_id
        return error


class PublishRejected(ValueError):
    """A publish request the caller must fix: answered 400 (or 409, 413), nothing is sent."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: list[FieldError] | None = None,
        message_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or []
        self.message_id = message_id

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.message_id is not None:
            body["id"] = self.message_id
        if self.errors:
            body["errors"] = [error.as_dict() for error in self.errors]
        return body


class HandOffFailed(RuntimeError):
    """The push function could not be invoked (throttled, unavailable, or it failed), or
    refused the push because its id was used on its audience by another push."""

    def __init__(self, reason: str, throttled: bool = False, id_conflict: bool = False) -> None:
        super().__init__(reason)
        self.throttled = throttled
        self.id_conflict = id_conflict


@dataclass
class PublishOutcome:
    """Every message's result, in request order, and whether the request was a batch."""

    batch: bool
    results: list[MessageResult] = field(default_factory=list)

    @property
    def status_code(self) -> int:
        """200 when every push finished (whatever its status), 202 when any still runs, 503
        when none could start,
        409 when every one was refused as an id conflict."""
        statuses = {result.status for result in self.results}
        unreachable = all(result.report is None for result in self.results)
        if statuses == {Status.FAILED} and unreachable:
            return 503
        if statuses == {Status.CONFLICT}:
            return 409
        return 202 if Status.ACCEPTED in statuses else 200

    def as_dict(self) -> dict[str, Any]:
        if self.batch:
            return {"results": [result.as_dict() for result in self.results]}
        return self.results[0].as_dict()
