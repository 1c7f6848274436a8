"""A push's status from its report, the publish API's answer for each, the trace's bound,
and the CLI's local check of a push sent as an event."""

from __future__ import annotations

import pytest

from wspush.logic import trace
from wspush.logic.publish import finished
from wspush.models.publish import MessageResult, PublishOutcome, Status
from wspush.models.push import DeliveryReport, Outcome, PostResult, PushStatus, push_status
from wspush_local.cli.main import refuse_locally


@pytest.mark.parametrize(
    ("counts", "shards_failed", "status"),
    [
        ({"targeted": 2, "sent": 2}, 0, PushStatus.DELIVERED),
        ({"targeted": 3, "sent": 2, "gone": 1}, 0, PushStatus.DELIVERED),
        ({"targeted": 2, "sent": 1, "failed": 1}, 0, PushStatus.PARTIAL),
        ({"targeted": 2, "sent": 2}, 1, PushStatus.PARTIAL),
        ({"targeted": 0}, 0, PushStatus.NO_RECIPIENTS),
        ({"targeted": 1, "gone": 1}, 0, PushStatus.NO_RECIPIENTS),
        ({"targeted": 1, "failed": 1}, 0, PushStatus.FAILED),
        ({"targeted": 0}, 1, PushStatus.FAILED),
    ],
)
def test_a_push_status_follows_its_report(counts, shards_failed, status) -> None:
    assert push_status(DeliveryReport(**counts), shards_failed) is status


def test_a_push_still_running_is_accepted() -> None:
    assert push_status(DeliveryReport(), done=False) is PushStatus.ACCEPTED


@pytest.mark.parametrize("status", ["delivered", "partial", "no_recipients", "failed"])
def test_the_publish_answer_carries_the_push_functions_status(status) -> None:
    result = finished("m-1", {"targeted": 1, "sent": 0, "status": status})
    assert result.status.value == status and result.report == {"targeted": 1, "sent": 0}
    assert result.as_dict()["status"] == status


def test_a_report_handed_on_is_accepted_and_one_without_status_delivered() -> None:
    assert finished("m", {"targeted": 1, "handedOn": True}).status is Status.ACCEPTED
    assert finished("m", {"targeted": 1, "sent": 1}).status is Status.DELIVERED


def test_only_an_unreachable_push_function_is_503() -> None:
    ran = PublishOutcome(False, [MessageResult("m", Status.FAILED, {"failed": 1})])
    unreachable = PublishOutcome(False, [MessageResult("m", Status.FAILED)])
    assert (ran.status_code, unreachable.status_code) == (200, 503)


def test_each_status_has_its_metric_name() -> None:
    assert Status.NO_RECIPIENTS.metric == "PublishNoRecipients"
    assert Status.PARTIAL.metric == "PublishPartial"


def test_a_failed_post_says_its_status_and_error_type() -> None:
    assert PostResult(Outcome.REJECTED, 403, "ForbiddenException").reason() == (
        "403 ForbiddenException"
    )
    assert PostResult(Outcome.SERVER_ERROR, None, "TimeoutError").reason() == (
        "no answer TimeoutError"
    )


def test_beyond_the_bound_only_a_sample_of_failures_is_kept() -> None:
    attempts = [[f"c{i}", "failed" if i % 2 else "sent", 403, "E", 0, 1.0] for i in range(300)]
    kept, omitted, used = trace.bounded_attempts(attempts, 0, 10)
    assert used == 10 and kept[:10] == attempts[:10]
    assert all(a[1] == "failed" for a in kept[10:]) and len(kept) == 10 + 50
    assert len(kept) + omitted == 300


def test_no_room_keeps_only_the_sample() -> None:
    attempts = [["c", "sent", 200, None, 0, 1.0]] * 5
    assert trace.bounded_attempts(attempts, 2, 0) == ([], 7, 0)


def test_the_cli_refuses_an_event_the_push_function_would_refuse() -> None:
    assert refuse_locally({"entityId": "u", "payload": 1}, "e" * 36) is None
    assert "audience" in (refuse_locally({"payload": 1}, "e") or "")
    assert refuse_locally({"entityId": "u", "payload": "x" * 140_000}, "e") is not None
    assert refuse_locally({"entityId": "u", "payload": float("nan")}, "e") is not None
