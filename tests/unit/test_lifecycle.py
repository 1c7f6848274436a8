"""Lifecycle events: occupied on the first subscriber, vacated on the last, closed once."""

import json

from tests.memory_history import MemoryHistory
from wspush.logic.connections import close_connection
from wspush.logic.lifecycle import Lifecycle
from wspush.logic.messages import ChannelServices, InboundMessage, handle_message
from wspush.models.connection import SubscribeOutcome
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
    """Connections-table rows: (partition, connection) -> owner."""

    def __init__(self):
        self.rows: dict[tuple[str, str], str | None] = {}

    def add_subscription(self, topic, connection_id, owner, expires_at, limit):
        if (f"topic#{topic}", connection_id) in self.rows:
            return SubscribeOutcome.ALREADY_SUBSCRIBED
        self.rows[(f"topic#{topic}", connection_id)] = owner
        return SubscribeOutcome.ADDED

    def remove_subscription(self, topic, connection_id, owner):
        return self.delete_row(f"topic#{topic}", connection_id)

    def rows_of_connection(self, connection_id):
        return [key for key in self.rows if key[1] == connection_id]

    def delete_row(self, partition, connection_id):
        return self.rows.pop((partition, connection_id), "absent") != "absent"

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
    lifecycle = Lifecycle(MemoryHistory(), events)
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
    lifecycle = Lifecycle(counts, events)
    rows.rows[("alice", "c1")] = None
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
    assert counts.occupancy == {"a": 0, "b": 1}


def test_the_entity_of_a_closed_connection_comes_from_its_row_when_not_given():
    events, rows = Events(), Rows()
    rows.rows[("carol", "c9")] = None
    close_connection(rows, "c9", Lifecycle(MemoryHistory(), events), None, reason="gone")
    assert events.published == [
        ("wspush.connection.closed", {"entityId": "carol", "connectionId": "c9", "reason": "gone"})
    ]


def test_a_bus_failure_is_logged_not_raised():
    lifecycle = Lifecycle(MemoryHistory(), Events(fail=True))
    lifecycle.connection_opened("alice", "c1")  # no exception
