"""Per-connection budgets against moto: one connection cannot make the system do more
than its budget allows, whatever it sends and however many requests run at once."""

from concurrent.futures import ThreadPoolExecutor

from tests.integration.conftest import CONNECTION_TTL, TABLE, send_frame
from tests.memory_history import MemoryHistory
from wspush.dal.connections_table import ConnectionsTable
from wspush.logic.budget import UNIT_BYTES, Budgets, Refused, take
from wspush.logic.channels import History, envelope_body
from wspush.logic.connections import open_connection
from wspush.logic.messages import ChannelServices
from wspush.models.push import Audience, PushRequest

NOW = 1_800_000_000


def _send(table, budgets, frame, now=NOW, history=None):
    channels = ChannelServices(history=history or MemoryHistory(), members=table, budgets=budgets)
    return send_frame(table, channels, "c1", "alice", frame, now)


def _connected(aws):
    table = ConnectionsTable(aws["dynamodb"], TABLE)
    open_connection(table, "alice", "c1", NOW, CONNECTION_TTL)
    return table


def test_a_spent_budget_answers_rate_limited_with_retry_after_until_it_refills(aws):
    # Given a budget of 5 units at once, refilling 1 a second
    table = _connected(aws)
    budgets = Budgets(table, per_second=1, burst=5)
    # When the connection sends 6 subscribes in the same second
    replies = [
        _send(table, budgets, {"action": "subscribe", "topic": f"t{i}"}).frame for i in range(6)
    ]
    # Then 5 are answered and the 6th is rate_limited, naming its topic and when to retry
    assert [r["type"] for r in replies[:5]] == ["subscribed"] * 5
    assert replies[5] == {
        "type": "error",
        "code": "rate_limited",
        "message": "this connection's budget is spent; retry subscribe in 1 s",
        "topic": "t5",
        "action": "subscribe",
        "retryAfter": 1,
    }
    # And presence and resume draw on the same budget; ping does not
    assert _send(table, budgets, {"action": "presence", "topic": "t0"}).frame["code"] == (
        "rate_limited"
    )
    assert _send(table, budgets, {"action": "ping"}).frame["type"] == "pong"
    # And a second later there is one unit again, not more
    later = [
        _send(table, budgets, {"action": "presence", "topic": "t0"}, now=NOW + 1).frame
        for _ in range(2)
    ]
    assert [f.get("code", f["type"]) for f in later] == ["presence", "rate_limited"]


def test_concurrent_requests_never_take_more_than_the_budget(aws):
    table = _connected(aws)
    budgets = Budgets(table, per_second=1, burst=8)
    with ThreadPoolExecutor(max_workers=8) as pool:
        taken = list(pool.map(lambda _: take(budgets, "c1", "alice", NOW), range(40)))
    assert sum(not isinstance(t, Refused) for t in taken) == 8
    assert {t.retry_after for t in taken if isinstance(t, Refused)} == {1}


def test_a_resume_replays_no_more_bytes_than_the_budget_holds(aws):
    # Given 20 missed broadcasts of about 40 KB each, and a budget of 10 units (320 KB)
    table = _connected(aws)
    budgets = Budgets(table, per_second=1, burst=10)
    history = MemoryHistory()
    kept = History(history, retention_seconds=3600)
    for i in range(20):
        request = PushRequest(Audience(broadcast=True), {"blob": "x" * 40_000}, id=f"b{i}")
        envelope_body(request, f"b{i}", kept, NOW - 100 + i)
    # When the connection resumes from broadcast 0, again and again
    first = _send(table, budgets, {"action": "resume", "since": {"broadcast": 0}}, history=history)
    again = _send(table, budgets, {"action": "resume", "since": {"broadcast": 0}}, history=history)
    # Then the first replays what its budget left (9 units after the request: 288 KB, so
    # 7 pushes) and says where it stopped; the next is rate_limited
    replayed = sum(len(body) for body in first.before)
    assert len(first.before) == 7 and replayed <= 9 * UNIT_BYTES
    assert first.frame["channels"] == {"broadcast": 7} and first.frame["more"] == ["broadcast"]
    assert again.frame["code"] == "rate_limited" and again.frame["retryAfter"] >= 1
    # And a connection spending its whole budget on resumes for a minute replays at most
    # the burst plus what refills
    total = replayed
    for second in range(1, 61):
        reply = _send(
            table,
            budgets,
            {"action": "resume", "since": {"broadcast": 0}},
            now=NOW + second,
            history=history,
        )
        total += sum(len(body) for body in reply.before)
    assert total <= (10 + 60) * UNIT_BYTES
