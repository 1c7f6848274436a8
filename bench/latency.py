"""End-to-end push latency and the calls each push makes, run as ``python -m bench.latency``
in a process of its own (the handlers read their configuration from the environment at
import).

The push and publish handlers run as they do in Lambda, on moto's DynamoDB (in this
process) behind a client that adds the model's delay to every call and counts each call,
its capacity units and its bytes. Posts go to the latency-injecting ``@connections``
endpoint (``bench.servers latency``), which answers each after the model's post time; a
client's receipt is taken as that answer (the whole round trip counts). A hand-off from
the publish function to the push function costs the model's invoke time. Every case
starts from a clean endpoint and ends when its last post was answered.

Prints one JSON line: every push's first and last receipt, its calls, bytes and log bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import math
import os
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from typing import Any

import boto3
from moto import mock_aws

from bench.sharded import lambda_context, push_environment
from wspush_local.emulator.table import create_connections_table, create_history_table

ENTRY_POINTS = ("publish API", "direct invoke", "EventBridge event", "client publish")
# A client publishes to a topic's subscribers only, from a connection of its own.
CLIENT_PUBLISH_AUDIENCES = ("topic",)
SENDER_ENTITY, SENDER_CONNECTION = "bench-sender", "sender-0"
AUDIENCES = ("connection", "entity", "topic", "broadcast")
# DynamoDB bills a write per 1 KB of item and a strongly consistent read per 4 KB (an
# eventually consistent one is half that); a transaction's writes cost twice.
_WRITE_UNIT, _READ_UNIT = 1024, 4096
_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
_READS = {"GetItem", "Query", "Scan"}


def _operation(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


class ModelledDynamoDB:
    """A DynamoDB client whose every call takes ``delay`` seconds, counted. A call takes
    at least the delay (it sleeps what moto did not use); moto's own time beyond it is
    recorded (``excess``) and taken out of the receipts that came after it, once however
    many calls overlapped then. That is exact for calls one after the other; for calls
    side by side it can take out a little too much when only the shorter was slow."""

    def __init__(self, client: Any, delay: float) -> None:
        self._client = client
        self._delay = delay
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.write_units = 0.0
        self.read_units = 0.0
        self.request_bytes = 0
        # When moto ran past the model: the end of each call that took longer than it.
        self.excess: list[tuple[float, float]] = []

    def excess_before(self, moment: float) -> float:
        """How long before ``moment`` some call ran past the model: overlapping calls
        (the audience read beside the numbering) are counted once."""
        with self._lock:
            spans = sorted((start, min(end, moment)) for start, end in self.excess)
        total, reached = 0.0, float("-inf")
        for start, end in spans:
            start = max(start, reached)
            if end > start:
                total += end - start
                reached = end
        return total

    def reset(self) -> dict[str, Any]:
        with self._lock:
            snapshot = {
                "calls": dict(self.calls),
                "writeUnits": self.write_units,
                "readUnits": self.read_units,
                "requestBytes": self.request_bytes,
            }
            self.calls.clear()
            self.write_units = self.read_units = 0.0
            self.request_bytes = 0
            self.excess = []
        return snapshot

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        operation = _operation(name)

        def modelled(**kwargs: Any) -> Any:
            began = time.perf_counter()
            response = method(**kwargs)
            spent = time.perf_counter() - began
            if spent < self._delay:
                time.sleep(self._delay - spent)
            size = len(json.dumps(kwargs, default=str))
            with self._lock:
                if spent > self._delay:
                    ended = time.time()
                    self.excess.append((ended - (spent - self._delay), ended))
                self.calls[operation] += 1
                self.request_bytes += size
                if operation in _WRITES:
                    self.write_units += math.ceil(size / _WRITE_UNIT)
                elif operation == "TransactWriteItems":
                    for item in kwargs.get("TransactItems", []):
                        self.write_units += 2 * math.ceil(len(json.dumps(item)) / _WRITE_UNIT)
                elif operation in _READS:
                    read = len(json.dumps(response.get("Items", response.get("Item", {}))))
                    consistent = kwargs.get("ConsistentRead", False)
                    units = max(1, math.ceil(read / _READ_UNIT))
                    self.read_units += units if consistent else units / 2
            return response

        return modelled


class CountingStream(io.TextIOBase):
    """Where log lines go: only their bytes are kept."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, text: str) -> int:
        self.bytes += len(text.encode("utf-8"))
        return len(text)


def _environment(args: argparse.Namespace) -> dict[str, str]:
    return {
        **push_environment(args.endpoint),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "PUSH_FUNCTION_NAME": "bench-push",
        "AWS_DEFAULT_REGION": "us-east-1",
        # One invocation holds the largest audience, and a broadcast reads one segment
        # (its Scan is always sharded): the parallel sharded path is section 6's.
        "PUSH_SHARD_SIZE": str(max(args.sizes)),
        "PUSH_SHARD_PARALLELISM": "1",
        # The message function's client publish: every topic public to publish to, a rate
        # no run reaches, and the push function's fan-out width, so that its floor is the
        # same; an audience past its inline limit (100) is handed to the push function.
        "PUBLIC_PUBLISH_PATTERNS": "*",
        "CLIENT_PUBLISH_RATE_PER_SECOND": "100000",
        "CLIENT_PUBLISH_BURST": "100000",
        "CLIENT_PUBLISH_CONCURRENCY": "32",
    }


class InProcessInvoker:
    """The publish function's hand-off: the push handler in this process, after the model's
    invoke time; asynchronous invokes run in a thread."""

    def __init__(self, push: Any, delay: float) -> None:
        self._push = push
        self._delay = delay
        self.background: list[threading.Thread] = []

    def deliver(self, request: dict[str, Any]) -> dict[str, int] | None:
        time.sleep(self._delay)
        body = self._push.handler(json.loads(json.dumps(request)), lambda_context())
        return {key: int(value) for key, value in body.items() if isinstance(value, int)}

    def enqueue(self, request: dict[str, Any]) -> None:
        time.sleep(self._delay / 2)  # an Event invoke answers once it is queued

        def run() -> None:
            time.sleep(self._delay / 2)
            self._push.handler(json.loads(json.dumps(request)), lambda_context())

        thread = threading.Thread(target=run)
        thread.start()
        self.background.append(thread)


class InProcessShards:
    """The push function's shard invocations: the handler in this process, after the
    model's invoke time."""

    def __init__(self, push: Any, delay: float) -> None:
        self._push = push
        self._delay = delay
        self.invocations = 0

    def run(self, task: dict[str, Any]) -> dict[str, Any]:
        self.invocations += 1
        time.sleep(self._delay)
        result: dict[str, Any] = self._push.handler(json.loads(json.dumps(task)), lambda_context())
        return result

    def hand_on(self, task: dict[str, Any]) -> None:
        raise AssertionError("one invocation has the time for every audience measured here")


def _populate(client: Any, table: str, n: int) -> None:
    """``n`` connections of one entity, each also subscribed to one topic."""
    now = int(time.time()) - 3600
    rows: list[dict[str, Any]] = []
    for i in range(n):
        connection = {"connectionId": {"S": f"c{n}-{i:05d}"}, "connectedAt": {"N": str(now)}}
        rows.append({**connection, "entityId": {"S": f"e{n}"}})
        rows.append(
            {**connection, "entityId": {"S": f"topic#t{n}"}, "ownerEntityId": {"S": f"e{n}"}}
        )
    for start in range(0, len(rows), 25):
        client.batch_write_item(
            RequestItems={table: [{"PutRequest": {"Item": r}} for r in rows[start : start + 25]]}
        )


@contextlib.contextmanager
def _sender(client: Any, table: str) -> Any:
    """The connection client publishes come from, while they are measured (it subscribes
    to nothing, so no echo is counted; gone before the broadcasts, which would reach it)."""
    key = {"entityId": {"S": SENDER_ENTITY}, "connectionId": {"S": SENDER_CONNECTION}}
    client.put_item(
        TableName=table, Item={**key, "connectedAt": {"N": str(int(time.time()) - 3600)}}
    )
    try:
        yield
    finally:
        client.delete_item(TableName=table, Key=key)


def _message_handler(modelled: ModelledDynamoDB, invoker: InProcessInvoker) -> Any:
    """The message function as Lambda loads it, on the tables the environment names now
    and the modelled DynamoDB; a large audience's hand-off goes to ``invoker``."""
    import importlib

    import wspush.handlers._shared as shared
    import wspush.handlers.message as message

    shared.dynamodb_client = lambda: modelled  # type: ignore[assignment]
    message = importlib.reload(message)
    assert message.publishing is not None, "client publish needs PUSH_FUNCTION_NAME"
    message.publishing = dataclasses.replace(message.publishing, hand_off=invoker)
    return message


def _request(audience: str, n: int) -> dict[str, Any]:
    target: dict[str, Any] = {
        "connection": {"connectionId": f"c{n}-00000"},
        "entity": {"entityId": f"e{n}"},
        "topic": {"topic": f"t{n}"},
        "broadcast": {"broadcast": True},
    }[audience]
    return {**target, "id": f"lat-{uuid.uuid4()}", "payload": {"text": "hello"}}


def _http_get(url: str) -> Any:
    with urllib.request.urlopen(url) as response:  # noqa: S310 - loopback bench server
        return json.loads(response.read())


def _reset(base: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{base}/_bench/reset", method="POST"))  # noqa: S310


def _client_publish(request: dict[str, Any], message: Any) -> Any:
    frame = {"action": "publish", "topic": request["topic"], "id": request["id"]}
    event = {
        "requestContext": {
            "routeKey": "publish",
            "eventType": "MESSAGE",
            "connectionId": SENDER_CONNECTION,
            "requestId": str(uuid.uuid4()),
            "authorizer": {"entityId": SENDER_ENTITY},
        },
        "body": json.dumps({**frame, "data": request["payload"]}),
        "isBase64Encoded": False,
    }
    answer = message.handler(event, lambda_context())
    reply = json.loads(answer["body"])
    assert reply.get("type") == "published", reply
    return answer


def _invoke(entry: str, request: dict[str, Any], push: Any, publish: Any, message: Any) -> Any:
    if entry == "client publish":
        return _client_publish(request, message)
    if entry == "direct invoke":
        return push.handler(request, lambda_context())
    if entry == "EventBridge event":
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "order.shipped",
            "source": "bench.app",
            "detail": request,
        }
        return push.handler(event, lambda_context())
    http = {
        "version": "2.0",
        "rawPath": "/publish",
        "body": json.dumps(request),
        "isBase64Encoded": False,
        "requestContext": {"http": {"method": "POST"}, "authorizer": {"iam": {}}},
    }
    answer = publish.handler(http, lambda_context())
    assert answer["statusCode"] in (200, 202), answer
    return answer


def run(args: argparse.Namespace) -> dict[str, Any]:
    base = args.endpoint.rsplit("/", 1)[0]
    import wspush.handlers.publish as publish
    import wspush.handlers.push as push
    from wspush.dal.connections_table import ConnectionsTable
    from wspush.dal.history_table import HistoryTable
    from wspush.logic.channels import History

    client = boto3.client("dynamodb", region_name="us-east-1")
    modelled = ModelledDynamoDB(client, args.dynamodb_ms / 1000)
    invoker = InProcessInvoker(push, args.invoke_ms / 1000)
    publish.invoker = invoker
    shards = InProcessShards(push, args.invoke_ms / 1000)
    push.invoker_proxy = shards
    logs = CountingStream()
    from wspush.observability import logger

    logger.registered_handler.setStream(logs)  # type: ignore[attr-defined]
    cases: list[dict[str, Any]] = []
    for n, repeats in zip(args.sizes, args.repeats, strict=True):
        table, history_table = f"conn-{n}", f"hist-{n}"
        create_connections_table(client, table)
        create_history_table(client, history_table)
        _populate(client, table, n)
        os.environ.update({"CONNECTIONS_TABLE": table, "HISTORY_TABLE": history_table})
        message = _message_handler(modelled, invoker)
        connections = ConnectionsTable(modelled, table)
        kept = HistoryTable(modelled, history_table)
        push.table = connections
        push.history = History(kept, push.config.history_retention_seconds)
        publish.table = connections
        publish.history = kept
        for audience in AUDIENCES:
            if audience == "connection" and n != 1:
                continue
            for entry in ENTRY_POINTS:
                if entry == "client publish" and audience not in CLIENT_PUBLISH_AUDIENCES:
                    continue
                sender = _sender(client, table) if entry == "client publish" else None
                with sender or contextlib.nullcontext():
                    for attempt in range(repeats + 1):  # the first warms the path up
                        request = _request(audience, n)
                        _reset(base)
                        modelled.reset()
                        shards.invocations = 0
                        logs.bytes = 0
                        stdout = CountingStream()
                        started = time.time()
                        with contextlib.redirect_stdout(stdout):  # metrics (EMF) lines
                            _invoke(entry, request, push, publish, message)
                            for thread in invoker.background:
                                thread.join()
                        # The publish API always hands off; a client publish past its inline limit.
                        handed_on = entry == "publish API" or bool(invoker.background)
                        invoker.background.clear()
                        handled = time.time() - started
                        stats = _http_get(f"{base}/_bench/stats")
                        first = stats["firstAnswered"]
                        last = stats["lastAnswered"]
                        first -= modelled.excess_before(first)
                        last -= modelled.excess_before(last)
                        counts = modelled.reset()
                        assert stats["answered"] == n, f"{entry} {audience} N={n}: {stats}"
                        if attempt == 0:
                            continue
                        cases.append(
                            {
                                "entry": entry,
                                "audience": audience,
                                "n": n,
                                "first": first - started,
                                "last": last - started,
                                "handled": handled,
                                "posts": stats["posts"],
                                "postBytes": stats["bytes"],
                                "logBytes": logs.bytes + stdout.bytes,
                                "invocations": 1 + int(handed_on) + shards.invocations,
                                **counts,
                            }
                        )
    return {"cases": cases}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], required=True)
    parser.add_argument("--repeats", type=lambda s: [int(x) for x in s.split(",")], required=True)
    parser.add_argument("--dynamodb-ms", type=float, required=True)
    parser.add_argument("--invoke-ms", type=float, required=True)
    args = parser.parse_args()
    os.environ.update(_environment(args))
    with mock_aws():
        result = run(args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
