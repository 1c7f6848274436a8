"""Honest statuses, failure reasons and the trace of a push, against moto and the fake
``@connections`` endpoint."""

from __future__ import annotations

import time

from tests.integration import test_push_handler
from tests.integration.conftest import HISTORY_TABLE, TABLE
from tests.integration.test_push_sharding import InProcessInvocations, lambda_context
from wspush.dal.history_table import HistoryTable
from wspush.logic import trace
from wspush.logic.shards import Sharding


def _seed(dynamodb, entity, connections):
    for connection in connections:
        item = {"entityId": {"S": entity}, "connectionId": {"S": connection}}
        dynamodb.put_item(TableName=TABLE, Item=item)


push_log = test_push_handler.push_log  # the push function's log lines, as JSON records


def _outcome_line(records):
    (line,) = [r for r in records if r.get("message", "").startswith("push ") and "status" in r]
    return line


def _trace(aws, push_id):
    return trace.read(HistoryTable(aws["dynamodb"], HISTORY_TABLE), push_id)


def test_every_connection_sent_is_delivered_logged_at_info_and_traced(
    aws, handlers, context, connections_endpoint, push_log
):
    # Given two live connections of u1
    _seed(aws["dynamodb"], "u1", ["a1", "a2"])
    connections_endpoint.live.update({"a1", "a2"})
    # When a push goes to u1
    report = handlers["push"].handler({"entityId": "u1", "payload": 1, "id": "p-1"}, context)
    # Then it is delivered, logged at INFO, and its trace names both connections
    assert report["status"] == "delivered"
    line = _outcome_line(push_log())
    assert (line["level"], line["message"]) == ("INFO", "push delivered")
    record = _trace(aws, "p-1")
    assert record["status"] == "delivered" and record["channel"] == "entity:u1"
    assert record["seq"] == 1 and record["audience"] == "entity:u1"
    assert {c["connectionId"]: c["outcome"] for c in record["connections"]} == {
        "a1": "sent",
        "a2": "sent",
    }
    assert all(c["status"] == 200 and c["durationMs"] >= 0 for c in record["connections"])
    assert record["resolved"] == {"rows": 2, "pages": 1, "shards": 0, "handOns": 0}
    assert record["acceptedAt"] <= record["lastPostAt"] <= record["endedAt"]


def test_a_push_to_nobody_has_no_recipients(aws, handlers, context, push_log):
    report = handlers["push"].handler({"entityId": "nobody", "payload": 1, "id": "p-0"}, context)
    assert report["status"] == "no_recipients" and report["targeted"] == 0
    line = _outcome_line(push_log())
    assert (line["level"], line["message"]) == ("WARNING", "push found no recipients")
    assert _trace(aws, "p-0")["status"] == "no_recipients"


def test_some_failed_is_partial_with_the_reason_per_connection(
    aws, handlers, context, connections_endpoint, push_log
):
    # Given one connection that refuses with 403 and one that takes the push
    _seed(aws["dynamodb"], "u2", ["ok", "bad"])
    connections_endpoint.live.update({"ok", "bad"})
    connections_endpoint.script["bad"] = [403]
    # When a push goes to u2
    report = handlers["push"].handler({"entityId": "u2", "payload": 1, "id": "p-2"}, context)
    # Then it is partial, logged at WARNING with why the connection failed
    assert report["status"] == "partial"
    line = _outcome_line(push_log())
    assert line["level"] == "WARNING"
    assert line["reasons"] == {"403 ForbiddenException": 1}
    assert line["failures"] == [
        {"connectionId": "bad", "status": 403, "error": "ForbiddenException"}
    ]
    record = _trace(aws, "p-2")
    (failed,) = [c for c in record["connections"] if c["outcome"] == "failed"]
    assert (failed["connectionId"], failed["status"]) == ("bad", 403)
    assert "403 ForbiddenException" in trace.render(record)


def test_none_sent_is_failed_logged_at_error(
    aws, handlers, context, connections_endpoint, push_log
):
    _seed(aws["dynamodb"], "u3", ["c1"])
    connections_endpoint.live.add("c1")
    connections_endpoint.script["c1"] = [500] * 10
    report = handlers["push"].handler({"entityId": "u3", "payload": 1, "id": "p-3"}, context)
    assert report["status"] == "failed"
    line = _outcome_line(push_log())
    assert (line["level"], line["message"]) == ("ERROR", "push failed")
    assert line["reasons"] == {"500 InternalServerErrorException": 1}


def test_above_the_bound_the_trace_keeps_counts_and_a_sample_of_failures(
    aws, handlers, context, connections_endpoint, monkeypatch
):
    # Given a bound of 3 connections and 8 connections, 2 of them failing
    module = handlers["push"]
    monkeypatch.setattr(module, "trace", trace.TraceKeeping(module.history_table, 3600, 3))
    connections = [f"c{i}" for i in range(8)]
    _seed(aws["dynamodb"], "many", connections)
    connections_endpoint.live.update(connections[:6])
    for failing in ("c6", "c7"):
        connections_endpoint.live.add(failing)
        connections_endpoint.script[failing] = [403]
    # When a push goes to them
    module.handler({"entityId": "many", "payload": 1, "id": "p-many"}, context)
    # Then the trace keeps 3 in full plus the failures beyond, and counts the rest
    record = _trace(aws, "p-many")
    kept = record["connections"]
    failed = {c["connectionId"] for c in kept if c["outcome"] == "failed"}
    assert failed == {"c6", "c7"}
    assert len(kept) <= 3 + 2 and len(kept[:3]) == 3
    assert len(kept) + record["connectionsOmitted"] == 8
    assert record["totals"]["targeted"] == 8


def test_the_trace_of_a_sharded_push_spans_its_shards_and_hand_ons(
    aws, handlers, connections_endpoint, monkeypatch
):
    # Given 120 connections, shards of 40 and a coordinator that must hand on (the rate
    # limit makes the posts take 4 s, more than the 2.5 s the first invocation may use)
    module = handlers["push"]
    invocations = InProcessInvocations(module)
    monkeypatch.setattr(module, "invoker_proxy", invocations)
    monkeypatch.setattr(
        module,
        "sharding",
        Sharding(shard_size=40, parallelism=2, rate_limit=30, page_size=25, margin_seconds=2),
    )
    connections = [f"s{i:03d}" for i in range(120)]
    _seed(aws["dynamodb"], "big", connections)
    connections_endpoint.live.update(connections)
    # When the push starts with little time, then its hand-ons run
    first = module.handler({"entityId": "big", "payload": 1, "id": "p-big"}, lambda_context(4.5))
    results = [first, *invocations.drain()]
    # Then the last answer is final, the earlier ones accepted
    assert first["status"] == "accepted" and first["handedOn"] is True
    assert results[-1]["status"] == "delivered"
    # And the trace has one part per invocation, every connection once, all sent
    record = _trace(aws, "p-big")
    assert record["status"] == "delivered"
    assert len(record["invocations"]) == len(results)
    assert sorted(c["connectionId"] for c in record["connections"]) == connections
    assert record["resolved"]["shards"] >= 3 and record["resolved"]["handOns"] >= 1
    assert record["resolved"]["rows"] == 120 and record["resolved"]["pages"] >= 3


def test_an_ack_is_appended_to_the_trace(aws, handlers, context, connections_endpoint):
    _seed(aws["dynamodb"], "u4", ["k1"])
    connections_endpoint.live.add("k1")
    handlers["push"].handler({"entityId": "u4", "payload": 1, "id": "p-ack"}, context)
    keeping = handlers["push"].trace
    now = time.time()
    trace.record_ack(keeping, "p-ack", "entity:u4", "k1", now)
    # An ack of another channel's push with the same id is not this push's
    trace.record_ack(keeping, "p-ack", "entity:someone-else", "k9", now)
    record = _trace(aws, "p-ack")
    assert record["acks"] == [{"connectionId": "k1", "atMs": int(now * 1000)}]
    assert "acked by  k1" in trace.render(record)


def test_an_unknown_push_has_no_trace(aws, handlers):
    assert _trace(aws, "never-pushed") is None
