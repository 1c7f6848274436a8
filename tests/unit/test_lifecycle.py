"""Lifecycle events: occupied on the first subscriber, vacated on the last, closed once."""

import json
from dataclasses import replace

from tests.memory_history import MemoryHistory
from wspush.logic.connections import close_connection
from wspush.logic.lifecycle import Lifecycle
from wspush.logic.messages import ChannelServices, InboundMessage, handle_message
from wspush.models.connection import DeletedRow, SubscribeOutcome
from wspush.models.events import PublishError


class Events:
    def __init__(self, fail=False):
        self.published: list[tuple[str, dict]] = []
        self.fail = fail

    def publish(self, detail_type, detail):
        if self.fail:
            raise PublishError("bus unavailable")
        self.published.append((detail_type, detail))


class Rows:
    """Connections-table rows: (partition, connection) -> the row as deleted."""

    def __init__(self):
        self.rows: dict[tuple[str, str], DeletedRow] = {}

    def add_subscription(self, topic, connection_id, owner, expires_at, limit, write_id):
        if (f"topic#{topic}", connection_id) in self.rows:
            return SubscribeOutcome.ALREADY_SUBSCRIBED
        self.rows[(f"topic#{topic}", connection_id)] = DeletedRow(
            f"topic#{topic}", expires_at=expires_at
        )
        return SubscribeOutcome.ADDED

    def mark_counted(self, topic, connection_id, write_id):
        row = self.rows.get((f"topic#{topic}", connection_id))
        if row is None:
            return False
        self.rows[(f"topic#{topic}", connection_id)] = replace(row, counted=True)
        return True

    def remove_subscription(self, topic, connection_id, owner):
        return self.delete_row(f"topic#{topic}", connection_id)

    def rows_of_connection(self, connection_id):
        return [key for key in self.rows if key[1] == connection_id]

    def delete_row(self, partition, connection_id, written_before=None):
        return self.rows.pop((partition, connection_id), None)

    def delete_rows(self, rows):
        for partition, connection_id in rows:
            self.delete_row(partition, connection_id)


def _frame(rows, lifecycle, connection, entity, action, topic):
    message = InboundMessage(
        json.dumps({"action": action, "topic": topic}), False, connection, entity, ("*",)
    )
    channels = ChannelServices(history=MemoryHistory(), members=rows, lifecycle=lifecycle)
    return handle_message(message, rows, now=0, ttl_seconds=60, max_bytes=1024, channels=channels)


def test_occupied_on_the_first_subscriber_and_vacated_after_the_last():
    events, rows = Events(), Rows()
    lifecycle = Lifecycle(MemoryHistory(), events, clock=lambda: 0)
    _frame(rows, lifecycle, "c1", "alice", "subscribe", "room")
    _frame(rows, lifecycle, "c1", "alice", "subscribe", "room")  # again: not a new subscriber
    _frame(rows, lifecycle, "c2", "bob", "subscribe", "room")
    assert [t for t, _ in events.published] == ["wspush.topic.occupied"]
    assert events.published[0][1] == {"topic": "room", "entityId": "alice", "connectionId": "c1"}
    _frame(rows, lifecycle, "c1", "alice", "unsubscribe", "room")
    _frame(rows, lifecycle, "c1", "alice", "unsubscribe", "room")  # again: nothing left to leave
    assert [t for t, _ in events.published] == ["wspush.topic.occupied"]
    _frame(rows, lifecycle, "c2", "bob", "unsubscribe", "room")
    assert [t for t, _ in events.published] == ["wspush.topic.occupied", "wspush.topic.vacated"]
    assert events.published[1][1]["entityId"] == "bob"


def test_closing_a_connection_vacates_its_topics_and_publishes_closed_once():
    events, rows, counts = Events(), Rows(), MemoryHistory()
    lifecycle = Lifecycle(counts, events, clock=lambda: 0)
    rows.rows[("alice", "c1")] = DeletedRow("alice")
    _frame(rows, lifecycle, "c1", "alice", "subscribe", "a")
    _frame(rows, lifecycle, "c1", "alice", "subscribe", "b")
    _frame(rows, lifecycle, "c2", "bob", "subscribe", "b")
    events.published.clear()
    # When $disconnect and a push's 410 cleanup both close c1
    close_connection(rows, "c1", lifecycle, "alice", reason="client closed")
    close_connection(rows, "c1", lifecycle, None, reason="gone")
    # Then a is vacated, b keeps bob, and c1 closes exactly once
    assert events.published == [
        ("wspush.topic.vacated", {"topic": "a", "entityId": "alice", "connectionId": "c1"}),
        (
            "wspush.connection.closed",
            {"entityId": "alice", "connectionId": "c1", "reason": "client closed"},
        ),
    ]
    assert (counts.subscribers("a", 0), counts.subscribers("b", 0)) == (0, 1)


def test_the_entity_of_a_closed_connection_comes_from_its_row_when_not_given():
    events, rows = Events(), Rows()
    rows.rows[("carol", "c9")] = DeletedRow("carol")
    close_connection(
        rows, "c9", Lifecycle(MemoryHistory(), events, clock=lambda: 0), None, reason="gone"
    )
    assert events.published == [
        ("wspush.connection.closed", {"entityId": "carol", "connectionId": "c9", "reason": "gone"})
    ]


def test_a_bus_failure_is_logged_not_raised():
    lifecycle = Lifecycle(MemoryHistory(), Events(fail=True), clock=lambda: 0)
    lifecycle.connection_opened("alice", "c1")  # no exception


def test_a_row_deleted_before_it_was_counted_is_uncounted_by_its_subscriber():
    # Given a subscribe whose row a racing $disconnect deletes after the subscribe wrote it
    # but before it marked it counted (so the $disconnect did not uncount it)
    events, rows, counts = Events(), Rows(), MemoryHistory()
    lifecycle = Lifecycle(counts, events, clock=lambda: 0)
    rows.rows[("alice", "c1")] = DeletedRow("alice")
    mark = rows.mark_counted

    def deleted_first(topic, connection_id, write_id):
        close_connection(rows, connection_id, lifecycle, "alice", reason="closed")
        return mark(topic, connection_id, write_id)

    rows.mark_counted = deleted_first
    _frame(rows, lifecycle, "c1", "alice", "subscribe", "room")
    # Then the subscribe takes its count back: the topic was occupied, then vacated, once
    assert [t for t, _ in events.published] == [
        "wspush.topic.occupied",
        "wspush.connection.closed",
        "wspush.topic.vacated",
    ]
    assert counts.subscribers("room", 0) == 0 and rows.rows == {}


def test_a_row_deleted_after_it_was_counted_is_uncounted_by_its_deleter():
    events, rows, counts = Events(), Rows(), MemoryHistory()
    lifecycle = Lifecycle(counts, events, clock=lambda: 0)
    rows.rows[("alice", "c1")] = DeletedRow("alice", topics=frozenset({"room"}))
    _frame(rows, lifecycle, "c1", "alice", "subscribe", "room")
    close_connection(rows, "c1", lifecycle, "alice", reason="closed")
    assert [t for t, _ in events.published] == [
        "wspush.topic.occupied",
        "wspush.topic.vacated",
        "wspush.connection.closed",
    ]
    assert counts.subscribers("room", 0) == 0
