"""A subscribe racing $disconnect leaves no row behind and keeps occupancy exact.

On AWS, $disconnect can run while a message route of the same connection is still
running. Each trial interleaves one subscribe and one $disconnect of the same connection
differently at every DynamoDB call they make (``tests.interleave``), through the real
logic and data layers against moto, and then checks the table, the occupancy counter,
presence and the lifecycle events.
"""

import time

from tests.integration.conftest import (
    CONNECTION_TTL,
    HISTORY_TABLE,
    TABLE,
    RecordedEvents,
    occupancy,
    rows,
    send_frame,
)
from tests.interleave import Interleaving
from wspush.dal.connections_table import ConnectionsTable
from wspush.dal.history_table import HistoryTable
from wspush.logic.connections import close_connection, open_connection
from wspush.logic.lifecycle import TOPIC_OCCUPIED, TOPIC_VACATED, Lifecycle
from wspush.logic.messages import ChannelServices

TRIALS = 100


def _subscribe(table, lifecycle, connection_id, entity_id, topic):
    channels = ChannelServices(history=lifecycle.occupancy, members=table, lifecycle=lifecycle)
    frame = {"action": "subscribe", "topic": topic}
    return send_frame(table, channels, connection_id, entity_id, frame, int(time.time())).frame


def _trial(dynamodb, trial):
    """One interleaving (seed ``trial``) of c<trial> subscribing to room<trial> while its
    $disconnect runs; returns what went wrong, if anything."""
    connection, topic = f"c{trial}", f"room{trial}"
    interleaving = Interleaving(seed=trial)
    table = ConnectionsTable(interleaving.client(dynamodb), TABLE)
    events = RecordedEvents()
    lifecycle = Lifecycle(HistoryTable(table._client, HISTORY_TABLE), events)
    # Given a connection, and in every other trial a bystander already in the topic
    open_connection(table, "alice", connection, int(time.time()), CONNECTION_TTL)
    bystander = trial % 2 == 1
    if bystander:
        open_connection(table, "bob", f"b{trial}", int(time.time()), CONNECTION_TTL)
        assert _subscribe(table, lifecycle, f"b{trial}", "bob", topic)["type"] == "subscribed"
    events.published.clear()
    # (half the $disconnects carry the entity, half find it through the index)
    entity = "alice" if trial % 4 < 2 else None
    # When it subscribes while its $disconnect runs, interleaved as the seed says
    results = interleaving.run(
        {
            "subscribe": lambda: _subscribe(table, lifecycle, connection, "alice", topic),
            "disconnect": lambda: close_connection(table, connection, lifecycle, entity, "closed"),
        }
    )
    # Then the subscribe was answered, and no row of the connection is left
    problems = []
    reply = results["subscribe"]
    if reply.get("code", reply["type"]) not in ("subscribed", "not_connected"):
        problems.append(f"reply {reply}")
    left = rows(dynamodb)
    if [row for row in left if row[1] == connection]:
        problems.append("ghost row")
    # And the counter counts exactly the subscription rows there are
    subscribers = {row for row in left if row[0] == f"topic#{topic}"}
    counted = occupancy(dynamodb, topic, time.time())
    if not counted == len(subscribers) == int(bystander):
        problems.append(f"occupancy {counted}, rows {len(subscribers)}")
    # And presence lists only who is there
    members = ConnectionsTable(dynamodb, TABLE).topic_members(topic, int(time.time()))
    if [m.owner_entity_id for m in members] != (["bob"] if bystander else []):
        problems.append(f"presence {members}")
    # And the topic's events alternate and end vacated when it is empty; it closed once
    transitions = [t for t, _ in events.published if t in (TOPIC_OCCUPIED, TOPIC_VACATED)]
    if transitions not in ([], [] if bystander else [TOPIC_OCCUPIED, TOPIC_VACATED]):
        problems.append(f"events {transitions}")
    closed = [d for t, d in events.published if t == "wspush.connection.closed"]
    if closed != [{"entityId": "alice", "connectionId": connection, "reason": "closed"}]:
        problems.append(f"closed {closed}")
    return [f"trial {trial}: {problem} after {interleaving.calls}" for problem in problems]


def test_a_subscribe_racing_disconnect_leaves_no_ghost_row_in_100_interleavings(aws):
    problems = [problem for trial in range(TRIALS) for problem in _trial(aws["dynamodb"], trial)]
    assert problems == []
