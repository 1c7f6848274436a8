"""Topic occupancy against moto: counted by expiry, healed when rows expire unseen."""

from tests.integration.conftest import (
    CONNECTION_TTL,
    HISTORY_TABLE,
    TABLE,
    RecordedEvents,
    send_frame,
)
from wspush.dal.connections_table import ConnectionsTable
from wspush.dal.history_table import HistoryTable
from wspush.logic.connections import close_connection, open_connection
from wspush.logic.lifecycle import (
    OCCUPANCY_BUCKET_SECONDS,
    TOPIC_OCCUPIED,
    TOPIC_VACATED,
    Lifecycle,
    counted_until,
)
from wspush.logic.messages import ChannelServices

T0 = 1_800_000_000


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def _counter(dynamodb, topic):
    return dynamodb.get_item(
        TableName=HISTORY_TABLE,
        Key={"channel": {"S": f"occupancy#{topic}"}, "seq": {"N": "0"}},
    ).get("Item", {})


def test_a_count_is_kept_per_expiry_bucket_and_ended_buckets_are_removed(aws):
    dynamodb = aws["dynamodb"]
    history = HistoryTable(dynamodb, HISTORY_TABLE)
    early, late = T0 + 600, T0 + 1200
    assert history.change_occupancy("room", 1, early, T0) == 1
    assert history.change_occupancy("room", 1, late, T0) == 2
    assert history.change_occupancy("room", 1, early, T0) == 3
    item = _counter(dynamodb, "room")
    assert (item[f"until{early}"], item[f"until{late}"]) == ({"N": "2"}, {"N": "1"})
    assert item["expiresAt"] == {"N": str(late)}  # an arrival never moves it earlier
    # Once the early bucket has ended it no longer counts, and the next change removes it
    assert history.change_occupancy("room", -1, late, early) == 0
    item = _counter(dynamodb, "room")
    assert f"until{early}" not in item and item[f"until{late}"] == {"N": "0"}
    assert item["expiresAt"] == {"N": str(late)}


def _subscribe(table, lifecycle, connection_id, entity_id, now, action="subscribe"):
    channels = ChannelServices(history=lifecycle.occupancy, members=table, lifecycle=lifecycle)
    frame = {"action": action, "topic": "room"}
    return send_frame(table, channels, connection_id, entity_id, frame, now).frame


def _lifecycle(aws):
    """The connections table, and lifecycle events counted in the history table at a
    clock the test moves."""
    dynamodb = aws["dynamodb"]
    clock, events = Clock(T0), RecordedEvents()
    lifecycle = Lifecycle(HistoryTable(dynamodb, HISTORY_TABLE), events, clock=clock)
    return ConnectionsTable(dynamodb, TABLE), lifecycle, clock, events


def test_occupancy_heals_when_rows_expire_without_a_disconnect(aws):
    # Given alice's connection subscribed to room (occupied), whose $disconnect never comes
    table, lifecycle, clock, events = _lifecycle(aws)
    open_connection(table, "alice", "c1", T0, CONNECTION_TTL)
    assert _subscribe(table, lifecycle, "c1", "alice", T0)["type"] == "subscribed"
    assert events.types == [TOPIC_OCCUPIED]
    # When its rows expire (DynamoDB's TTL deletes them, telling no one) and, later, bob
    # subscribes
    for partition in ("alice", "topic#room"):
        aws["dynamodb"].delete_item(
            TableName=TABLE, Key={"entityId": {"S": partition}, "connectionId": {"S": "c1"}}
        )
    clock.now = counted_until(T0 + CONNECTION_TTL)
    open_connection(table, "bob", "c2", clock.now, CONNECTION_TTL)
    assert _subscribe(table, lifecycle, "c2", "bob", clock.now)["type"] == "subscribed"
    # Then bob is the topic's first subscriber again, and his leaving vacates it
    assert events.types == [TOPIC_OCCUPIED, TOPIC_OCCUPIED]
    _subscribe(table, lifecycle, "c2", "bob", clock.now, action="unsubscribe")
    assert events.types == [TOPIC_OCCUPIED, TOPIC_OCCUPIED, TOPIC_VACATED]


def test_an_expired_subscription_deleted_late_is_not_uncounted_twice(aws):
    # Given alice subscribed, carol subscribed a bucket later, and alice's row expired
    table, lifecycle, clock, events = _lifecycle(aws)
    open_connection(table, "alice", "c1", T0, CONNECTION_TTL)
    _subscribe(table, lifecycle, "c1", "alice", T0)
    clock.now = T0 + 2 * OCCUPANCY_BUCKET_SECONDS
    open_connection(table, "carol", "c3", clock.now, CONNECTION_TTL)
    _subscribe(table, lifecycle, "c3", "carol", clock.now)
    clock.now = counted_until(T0 + CONNECTION_TTL)
    # When alice's $disconnect finally arrives, after her subscription stopped counting
    close_connection(table, "c1", lifecycle, "alice", "late")
    # Then carol still counts: the topic is not vacated until she leaves
    assert TOPIC_VACATED not in events.types
    close_connection(table, "c3", lifecycle, "carol", "closed")
    assert events.types.count(TOPIC_VACATED) == 1
