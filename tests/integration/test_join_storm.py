"""A join storm: a thousand connections subscribing to one topic at once.

Each subscribe is a two-item transaction on the connection's own rows; the topic's
counter is changed by one atomic ``ADD`` outside it, so concurrent subscribes never
conflict on the counter (in DynamoDB, transactions on one item do). Every subscribe is
answered, the topic is occupied exactly once, and the count is exact.
"""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

from tests.integration.conftest import HISTORY_TABLE, TABLE, occupancy
from wspush.dal.connections_table import BATCH_WRITE_LIMIT, ConnectionsTable
from wspush.dal.history_table import HistoryTable
from wspush.logic.lifecycle import TOPIC_OCCUPIED, Lifecycle
from wspush.logic.messages import ChannelServices, InboundMessage, handle_message

JOINERS = 1000
TTL = 7800


class Events:
    def __init__(self):
        self.published: list[str] = []

    def publish(self, detail_type, detail):
        self.published.append(detail_type)


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
                    "expiresAt": {"N": str(now + TTL)},
                }
            }
        }
        for i in range(JOINERS)
    ]
    for start in range(0, JOINERS, BATCH_WRITE_LIMIT):
        dynamodb.batch_write_item(RequestItems={TABLE: rows[start : start + BATCH_WRITE_LIMIT]})
    table = ConnectionsTable(dynamodb, TABLE)
    events = Events()
    lifecycle = Lifecycle(HistoryTable(dynamodb, HISTORY_TABLE), events)
    channels = ChannelServices(history=lifecycle.occupancy, members=table, lifecycle=lifecycle)

    def subscribe(i):
        message = InboundMessage(
            json.dumps({"action": "subscribe", "topic": "lobby"}),
            False,
            f"c{i}",
            f"user-{i}",
            ("*",),
        )
        reply = handle_message(
            message, table, now=now, ttl_seconds=TTL, max_bytes=1024, channels=channels
        )
        return reply.frame

    # When all of them subscribe to one topic at once
    with ThreadPoolExecutor(max_workers=16) as pool:
        replies = list(pool.map(subscribe, range(JOINERS)))
    # Then every one is answered subscribed, the topic was occupied once, and it counts
    # exactly the thousand
    assert replies == [{"type": "subscribed", "topic": "lobby"}] * JOINERS
    assert events.published == [TOPIC_OCCUPIED]
    assert len(table.topic_members("lobby", now)) == JOINERS
    assert occupancy(dynamodb, "lobby", now) == JOINERS
