"""A push id names one push per channel; its trace (``trace#<id>``) is its first writer's:
another channel's push with the same id (a client's publish on a topic, say) neither
replaces nor joins it."""

from __future__ import annotations

import time

from tests.integration.conftest import HISTORY_TABLE
from wspush.dal.history_table import HistoryTable
from wspush.logic import trace


def _part(channel: str, part: int, connection: str) -> dict:
    return {
        "id": "order-42", "channel": channel, "seq": 1, "audience": channel,
        "status": "delivered", "part": part, "acceptedAt": 1.0, "invokedAt": 1.0,
        "endedAt": 2.0, "lastPostAt": 1.5, "totals": {"targeted": 1, "sent": 1, "gone": 0,
        "failed": 0, "throttled": 0, "shards": 0, "handOns": part - 1}, "pages": 1,
        "reasons": {}, "shardsFailed": [], "attempts": [[connection, "sent", 200, None, 1000, 3.0]],
        "attemptsOmitted": 0,
    }  # fmt: skip


def test_another_channels_push_with_the_same_id_cannot_rewrite_a_trace(aws):
    history = HistoryTable(aws["dynamodb"], HISTORY_TABLE)
    until = int(time.time()) + 3600
    # Given the trace of the backend's push "order-42" to entity m
    history.put_trace_part("order-42", 1, _part("entity:m", 1, "c-m"), until)
    # When a client's publish on a topic, with the same id, is traced in two parts
    assert not history.put_trace_part("order-42", 1, _part("topic:room.1", 1, "c-x"), until)
    history.put_trace_part("order-42", 2, _part("topic:room.1", 2, "c-y"), until)
    # Then the trace is still the backend's push alone
    record = trace.read(history, "order-42")
    assert record is not None
    assert record["channel"] == "entity:m"
    assert [c["connectionId"] for c in record["connections"]] == ["c-m"]
    assert [i["part"] for i in record["invocations"]] == [1]
    # And the push itself still writes its later parts
    assert history.put_trace_part("order-42", 3, _part("entity:m", 3, "c-m3"), until)
    record = trace.read(history, "order-42")
    assert record is not None
    assert [c["connectionId"] for c in record["connections"]] == ["c-m", "c-m3"]
