"""What the CLI prints, read back from the tables it lists: ``wspush connections`` in the
protocol's camelCase names, with each connection's topics."""

from __future__ import annotations

import json
import time

from tests.integration.conftest import TABLE
from wspush.dal.connections_table import ConnectionsTable
from wspush.models.connection import Connection
from wspush_local.cli import main as cli


def _stack_file(work_dir, moto_url) -> None:
    info = {
        "websocket_url": "ws://127.0.0.1:1/local",
        "publish_url": "http://127.0.0.1:2/local/publish",
        "emulator_url": moto_url,
        "region": "us-east-1",
        "outputs": {"connections_table_name": TABLE},
    }
    (work_dir / "stack.json").write_text(json.dumps(info))


def test_connections_lists_protocol_names_and_each_connections_topics(
    aws, moto_url, tmp_path, capsys
):
    # Given two connections of alice, one subscribed to two topics, and one of bob
    table = ConnectionsTable(aws["dynamodb"], TABLE)
    now = int(time.time())
    for entity, connection_id in (("alice", "A1"), ("alice", "A2"), ("bob", "B1")):
        table.put_connection(
            Connection(entity, connection_id, now, now + 7200, "10.0.0.1", "test-agent")
        )
    for topic in ("orders.eu", "news"):
        table.add_subscription(topic, "A1", "alice", now + 7200, 5, f"w-{topic}")
    _stack_file(tmp_path, moto_url)

    # When the connections are listed
    assert cli.main(["connections", "--work-dir", str(tmp_path)]) == 0
    listed = {
        line["connectionId"]: line for line in map(json.loads, capsys.readouterr().out.splitlines())
    }

    # Then each is one JSON line in the protocol's names, with its topics
    assert set(listed) == {"A1", "A2", "B1"}
    assert listed["A1"] == {
        "connectionId": "A1",
        "entityId": "alice",
        "connectedAt": now,
        "expiresAt": now + 7200,
        "sourceIp": "10.0.0.1",
        "userAgent": "test-agent",
        "topics": ["news", "orders.eu"],
    }
    assert listed["A2"]["topics"] == []
    assert listed["B1"]["entityId"] == "bob"

    # and --entity lists that entity's only
    assert cli.main(["connections", "--work-dir", str(tmp_path), "--entity", "bob"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["connectionId"] for line in lines] == ["B1"]
