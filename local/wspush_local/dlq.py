"""The push dead-letter queue: see what failed, and send it through the push function again.

Listing hides nothing: messages are received with a short visibility timeout and made
visible again at once. A redrive deletes a message only after the push function accepted
it; a message whose redrive fails stays in the queue, visible again, with its reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Returns None when the push function accepted the event, else the reason it did not.
Redeliver = Callable[[Any], str | None]


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receipt_handle: str
    body: Any
    attributes: dict[str, str]

    def describe(self) -> dict[str, Any]:
        return {"messageId": self.message_id, "attributes": self.attributes, "body": self.body}


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
    attributes = {
        name: value.get("StringValue", "")
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    return DeadLetter(message["MessageId"], message["ReceiptHandle"], body, attributes)


def _receive(sqs: Any, queue_url: str, visibility: int) -> list[DeadLetter]:
    response = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=visibility,
        WaitTimeSeconds=0,
        MessageAttributeNames=["All"],
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
                reason = redeliver(letter.body)
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
