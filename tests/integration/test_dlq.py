"""Dead-letter listing and redrive against moto's SQS."""

from __future__ import annotations

import json

import boto3
import pytest

from wspush_local.dlq import list_dead_letters, redrive


@pytest.fixture
def queue(aws, moto_url):
    sqs = boto3.client("sqs", endpoint_url=moto_url)
    url = sqs.create_queue(QueueName="push-dlq")["QueueUrl"]
    for n in range(12):
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps({"entityId": "u", "payload": n}),
            MessageAttributes={"ErrorCode": {"DataType": "String", "StringValue": "Boom"}},
        )
    return sqs, url


def _visible(sqs, url) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_listing_shows_every_letter_and_leaves_them_in_the_queue(queue):
    sqs, url = queue
    letters = list_dead_letters(sqs, url)
    assert sorted(letter.body["payload"] for letter in letters) == list(range(12))
    assert all(letter.attributes == {"ErrorCode": "Boom"} for letter in letters)
    assert _visible(sqs, url) == 12


def test_redrive_deletes_only_what_the_push_function_accepted(queue):
    sqs, url = queue
    accepted: list[int] = []

    def redeliver(event):
        if event["payload"] % 3 == 0:
            return "still failing"
        accepted.append(event["payload"])
        return None

    report = redrive(sqs, url, redeliver)
    assert (report.redriven, report.failed) == (8, 4)
    assert sorted(accepted) == [1, 2, 4, 5, 7, 8, 10, 11]
    remaining = sorted(letter.body["payload"] for letter in list_dead_letters(sqs, url))
    assert remaining == [0, 3, 6, 9]
    assert {failure["reason"] for failure in report.failures} == {"still failing"}
