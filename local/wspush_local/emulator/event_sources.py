"""SQS event sources, locally: a poller per event source mapping receives what is due in
its queue and runs the function with the batch, as Lambda's SQS pollers do.

moto stores event source mappings but, on its own, runs the function only at the moment a
message is sent (through Docker), never for a delayed message. ``quiet_moto_pollers``
turns that path off; this poller reads the mappings Terraform created and delivers every
message once it is visible, honouring ``DelaySeconds``, the batch size and partial batch
responses (``ReportBatchItemFailures``). A message the function fails is left in the queue:
it is received again after its visibility timeout, and moto moves it to the queue's
dead-letter queue after ``maxReceiveCount`` receives, as SQS does, where the queue has a
redrive policy. Each record carries the message's attributes, ``ApproximateReceiveCount``
among them, as Lambda's do: the receipts function dead-letters by it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from moto.sqs.models import Queue

from wspush_local.runtime.service import InvocationError, LocalLambda, function_name_of

log = logging.getLogger("wspush.event_sources")


def quiet_moto_pollers() -> None:
    """moto's send-time delivery to a queue's mappings, turned off (this module's poller
    delivers instead). Idempotent."""
    if getattr(Queue.add_message, "_wspush_quiet", False):
        return
    original = Queue.add_message

    def add_message(queue: Queue, message: Any) -> None:
        mappings, queue.lambda_event_source_mappings = queue.lambda_event_source_mappings, {}
        try:
            original(queue, message)
        finally:
            queue.lambda_event_source_mappings = mappings

    add_message._wspush_quiet = True  # type: ignore[attr-defined]
    Queue.add_message = add_message  # type: ignore[method-assign]


@dataclass(frozen=True)
class SqsMapping:
    queue_arn: str
    queue_url: str
    function_name: str
    batch_size: int
    partial_batch: bool


def sqs_event(mapping: SqsMapping, messages: list[dict[str, Any]], region: str) -> dict[str, Any]:
    """The event Lambda hands a function for a batch of SQS messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message.get("MD5OfBody")
                or hashlib.md5(message["Body"].encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": mapping.queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


class SqsEventSources:
    def __init__(self, lambda_client: Any, sqs: Any, runtime: LocalLambda, region: str) -> None:
        self._lambda = lambda_client
        self._sqs = sqs
        self._runtime = runtime
        self._region = region
        self.mappings: list[SqsMapping] = []

    def load(self) -> None:
        paginator = self._lambda.get_paginator("list_event_source_mappings")
        for page in paginator.paginate():
            for entry in page["EventSourceMappings"]:
                arn = entry.get("EventSourceArn", "")
                if ":sqs:" not in arn or entry.get("State", "Enabled") not in (
                    "Enabled",
                    "Creating",
                ):
                    continue
                url = self._sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
                mapping = SqsMapping(
                    queue_arn=arn,
                    queue_url=url,
                    function_name=function_name_of(entry["FunctionArn"]),
                    batch_size=int(entry.get("BatchSize", 10)),
                    partial_batch="ReportBatchItemFailures"
                    in entry.get("FunctionResponseTypes", []),
                )
                self.mappings.append(mapping)
                log.info("event source %s -> %s", arn, mapping.function_name)

    def _receive(self, mapping: SqsMapping) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=mapping.queue_url,
            MaxNumberOfMessages=min(mapping.batch_size, 10),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    async def deliver(self, mapping: SqsMapping) -> int:
        """One batch of what is due; returns how many messages it handled."""
        messages = await asyncio.to_thread(self._receive, mapping)
        if not messages:
            return 0
        try:
            result = await self._runtime.invoke(
                mapping.function_name, sqs_event(mapping, messages, self._region)
            )
        except InvocationError as error:
            log.warning(
                "%s failed a batch from %s: %s", mapping.function_name, mapping.queue_arn, error
            )
            return len(messages)  # all received again after the visibility timeout
        failed: set[str] = set()
        if mapping.partial_batch and isinstance(result, dict):
            failed = {
                str(item.get("itemIdentifier"))
                for item in result.get("batchItemFailures") or []
                if isinstance(item, dict)
            }
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            await asyncio.to_thread(
                self._sqs.delete_message_batch,
                QueueUrl=mapping.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        return len(messages)

    async def run(self, interval: float = 0.25) -> None:
        while True:
            for mapping in self.mappings:
                try:
                    await self.deliver(mapping)
                except Exception:  # one bad poll must not stop the poller
                    log.exception("polling %s failed", mapping.queue_arn)
            await asyncio.sleep(interval)
