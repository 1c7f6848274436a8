"""The push dead-letter queue: see what failed, and send it through the push function again.

Every message is a Lambda invocation record, the one format of this queue: the push
function's on-failure destination receives one for each asynchronous invocation Lambda
gave up on (see docs/operations.md)::

    {"version": "1.0", "timestamp": "...",
     "requestContext": {"requestId": "...", "functionArn": "...:$LATEST",
                        "condition": "RetriesExhausted" | "EventAgeExceeded" | ...,
                        "approximateInvokeCount": 1},
     "requestPayload": <the event the push function was given>,
     "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                         "functionError": "Unhandled"},
     "responsePayload": {"errorType": "...", "errorMessage": "..."}}

Listing hides nothing: messages are received with a short visibility timeout and made
visible again at once. A redrive sends ``requestPayload`` to the push function again and
deletes a message only after the function accepted it; a message whose redrive fails, or
that is not an invocation record, stays in the queue, visible again, with its reason.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Returns None when the push function accepted the event, else the reason it did not.
Redeliver = Callable[[Any], str | None]
RECORD_VERSION = "1.0"


def invocation_record(
    function_arn: str,
    request_id: str,
    event: Any,
    condition: str,
    invoke_count: int,
    error: dict[str, str] | None,
) -> dict[str, Any]:
    """The invocation record Lambda sends to an on-failure destination."""
    record: dict[str, Any] = {
        "version": RECORD_VERSION,
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": request_id or str(uuid.uuid4()),
            "functionArn": f"{function_arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
    }
    if error is not None:
        record["responseContext"]["functionError"] = "Unhandled"
        record["responsePayload"] = error
    return record


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receipt_handle: str
    body: Any

    @property
    def is_invocation_record(self) -> bool:
        return (
            isinstance(self.body, dict)
            and "requestContext" in self.body
            and "requestPayload" in self.body
        )

    @property
    def request(self) -> Any:
        """The event to push again (the invocation's request)."""
        return self.body["requestPayload"] if self.is_invocation_record else None

    def describe(self) -> dict[str, Any]:
        if not self.is_invocation_record:
            return {"messageId": self.message_id, "unrecognised": self.body}
        context = self.body["requestContext"]
        return {
            "messageId": self.message_id,
            "timestamp": self.body.get("timestamp"),
            "condition": context.get("condition"),
            "attempts": context.get("approximateInvokeCount"),
            "error": self.body.get("responsePayload"),
            "request": self.body["requestPayload"],
        }


@dataclass
class RedriveReport:
    redriven: int = 0
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"redriven": self.redriven, "failed": self.failed, "failures": self.failures}


def _letter(message: dict[str, Any]) -> DeadLetter:
    try:
        body: Any = json.loads(message["Body"])
    except json.JSONDecodeError:
        body = message["Body"]
    return DeadLetter(message["MessageId"], message["ReceiptHandle"], body)


def _receive(sqs: Any, queue_url: str, visibility: int) -> list[DeadLetter]:
    response = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=visibility,
        WaitTimeSeconds=0,
    )
    return [_letter(message) for message in response.get("Messages", [])]


def _release(sqs: Any, queue_url: str, letters: list[DeadLetter]) -> None:
    for letter in letters:
        sqs.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0
        )


def list_dead_letters(sqs: Any, queue_url: str, limit: int = 100) -> list[DeadLetter]:
    letters: list[DeadLetter] = []
    try:
        while len(letters) < limit:
            batch = _receive(sqs, queue_url, visibility=30)
            if not batch:
                break
            letters.extend(batch)
    finally:
        _release(sqs, queue_url, letters)
    return letters[:limit]


def redrive(sqs: Any, queue_url: str, redeliver: Redeliver, limit: int = 100) -> RedriveReport:
    report = RedriveReport()
    kept: list[DeadLetter] = []
    try:
        while report.redriven + report.failed < limit:
            batch = _receive(sqs, queue_url, visibility=300)
            if not batch:
                break
            for letter in batch:
                reason = (
                    redeliver(letter.request)
                    if letter.is_invocation_record
                    else "not a Lambda invocation record: left in the queue"
                )
                if reason is None:
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=letter.receipt_handle)
                    report.redriven += 1
                else:
                    kept.append(letter)
                    report.failed += 1
                    report.failures.append({"messageId": letter.message_id, "reason": reason})
    finally:
        # Failed letters stay invisible until the loop ends, so each is tried once per run.
        _release(sqs, queue_url, kept)
    return report
