"""A join storm: a thousand connections subscribing to one topic at once.

Each subscribe is a two-item transaction on the connection's own rows; the topic's
counter is changed by one atomic ``ADD`` outside it, so concurrent subscribes never
conflict on the counter (in DynamoDB, transactions on one item do). Every subscribe is
answered, the topic is occupied exactly once, and the count is exact.
"""

import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

from tests.integration.conftest import (
    CONNECTION_TTL,
    HISTORY_TABLE,
    TABLE,
    RecordedEvents,
    occupancy,
    send_frame,
)
from wspush.dal.connections_table import BATCH_WRITE_LIMIT, ConnectionsTable
from wspush.dal.history_table import HistoryTable
from wspush.logic.lifecycle import TOPIC_OCCUPIED, Lifecycle
from wspush.logic.messages import ChannelServices

JOINERS = 1000


def test_a_thousand_concurrent_subscribes_are_all_answered_and_counted_once(aws, moto_url):
    dynamodb = boto3.client(
        "dynamodb", endpoint_url=moto_url, config=Config(max_pool_connections=16)
    )
    now = int(time.time())
    # Given a thousand connections
    rows = [
        {
            "PutRequest": {
                "Item": {
                    "entityId": {"S": f"user-{i}"},
                    "connectionId": {"S": f"c{i}"},
                    "connectedAt": {"N": str(now)},
                    "expiresAt": {"N": str(now + CONNECTION_TTL)},
                }
            }
        }
        for i in range(JOINERS)
    ]
    for start in range(0, JOINERS, BATCH_WRITE_LIMIT):
        dynamodb.batch_write_item(RequestItems={TABLE: rows[start : start + BATCH_WRITE_LIMIT]})
    table = ConnectionsTable(dynamodb, TABLE)
    events = RecordedEvents()
    lifecycle = Lifecycle(HistoryTable(dynamodb, HISTORY_TABLE), events)
    channels = ChannelServices(history=lifecycle.occupancy, members=table, lifecycle=lifecycle)

    def subscribe(i):
        frame = {"action": "subscribe", "topic": "lobby"}
        return send_frame(table, channels, f"c{i}", f"user-{i}", frame, now).frame

    # When all of them subscribe to one topic at once
    with ThreadPoolExecutor(max_workers=16) as pool:
        replies = list(pool.map(subscribe, range(JOINERS)))
    # Then every one is answered subscribed, the topic was occupied once, and it counts
    # exactly the thousand
    assert replies == [{"type": "subscribed", "topic": "lobby"}] * JOINERS
    assert events.types == [TOPIC_OCCUPIED]
    assert len(table.topic_members("lobby", now)) == JOINERS
    assert occupancy(dynamodb, "lobby", now) == JOINERS
