"""Dead-letter listing and redrive against moto's SQS: the queue holds Lambda invocation
records, and a redrive sends each record's request to the push function again."""

from __future__ import annotations

import json

import boto3
import pytest

from wspush_local.runtime.dlq import invocation_record, list_dead_letters, redrive

PUSH_ARN = "arn:aws:lambda:us-east-1:123456789012:function:wspush-prod-push"


@pytest.fixture
def queue(aws, moto_url):
    sqs = boto3.client("sqs", endpoint_url=moto_url)
    url = sqs.create_queue(QueueName="push-dlq")["QueueUrl"]
    for n in range(12):
        record = invocation_record(
            PUSH_ARN,
            f"request-{n}",
            {"entityId": "u", "payload": n},
            condition="RetriesExhausted",
            invoke_count=1,
            error={"errorType": "Boom", "errorMessage": "it broke"},
        )
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))
    return sqs, url


def _visible(sqs, url) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_listing_shows_every_letter_and_why_and_leaves_them_in_the_queue(queue):
    sqs, url = queue
    letters = [letter.describe() for letter in list_dead_letters(sqs, url)]
    assert sorted(letter["request"]["payload"] for letter in letters) == list(range(12))
    assert all(letter["condition"] == "RetriesExhausted" for letter in letters)
    assert all(
        letter["error"] == {"errorType": "Boom", "errorMessage": "it broke"} for letter in letters
    )
    assert _visible(sqs, url) == 12


def test_redrive_sends_the_request_and_deletes_only_what_the_push_function_accepted(queue):
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
    remaining = sorted(letter.request["payload"] for letter in list_dead_letters(sqs, url))
    assert remaining == [0, 3, 6, 9]
    assert {failure["reason"] for failure in report.failures} == {"still failing"}


def test_a_message_that_is_not_an_invocation_record_is_shown_and_never_redriven(aws, moto_url):
    sqs = boto3.client("sqs", endpoint_url=moto_url)
    url = sqs.create_queue(QueueName="push-dlq-foreign")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"entityId": "u"}))
    [letter] = list_dead_letters(sqs, url)
    assert letter.describe()["unrecognised"] == {"entityId": "u"}

    report = redrive(sqs, url, lambda event: pytest.fail("must not be redelivered"))
    assert report.failed == 1 and "not a Lambda invocation record" in report.failures[0]["reason"]
    assert _visible(sqs, url) == 1
