"""The table's batch delete and subscription transaction, against a scripted client."""

import pytest
from botocore.exceptions import ClientError

from wspush.dal.connections_table import BATCH_ATTEMPTS, ConnectionsTable
from wspush.models.connection import SubscribeOutcome
from wspush.models.errors import StoreError

TABLE = "t"


class BatchClient:
    """Leaves the last ``stubborn`` items of every request unprocessed, ``rounds`` times."""

    def __init__(self, rounds: int, stubborn: int = 3):
        self.rounds = rounds
        self.stubborn = stubborn
        self.requests: list[list[dict]] = []

    def batch_write_item(self, RequestItems):
        items = RequestItems[TABLE]
        self.requests.append(items)
        if self.rounds and len(items) > 0:
            self.rounds -= 1
            return {"UnprocessedItems": {TABLE: items[-self.stubborn :]}}
        return {"UnprocessedItems": {}}


def _rows(n):
    return [(f"topic#t{i}", "c1") for i in range(n)]


def test_rows_go_in_batches_of_25_and_unprocessed_ones_are_retried_with_backoff():
    # Given DynamoDB leaves 3 items unprocessed twice
    client = BatchClient(rounds=2)
    pauses = []
    # When 60 rows are deleted
    ConnectionsTable(client, TABLE).delete_rows(_rows(60), sleep=pauses.append)
    # Then they went 25 + 25 + 10, the stubborn 3 twice more, after growing pauses
    assert [len(r) for r in client.requests] == [25, 3, 3, 25, 10]
    deleted = {r["DeleteRequest"]["Key"]["entityId"]["S"] for req in client.requests for r in req}
    assert deleted == {f"topic#t{i}" for i in range(60)}
    assert len(pauses) == 2 and all(0 <= p <= 1.0 for p in pauses)


def test_items_still_unprocessed_after_every_attempt_are_a_store_error():
    client = BatchClient(rounds=BATCH_ATTEMPTS)
    with pytest.raises(StoreError, match="3 deletes still unprocessed"):
        ConnectionsTable(client, TABLE).delete_rows(_rows(10), sleep=lambda _: None)
    assert len(client.requests) == BATCH_ATTEMPTS


def test_no_rows_is_no_call():
    client = BatchClient(rounds=0)
    ConnectionsTable(client, TABLE).delete_rows([])
    assert client.requests == []


def _cancelled(*codes, item=False):
    reasons = [{"Code": code} for code in codes]
    if item:
        reasons[0]["Item"] = {"topics": {"SS": ["a", "b", "c", "d", "e"]}}
    return ClientError(
        {"Error": {"Code": "TransactionCanceledException"}, "CancellationReasons": reasons},
        "TransactWriteItems",
    )


class TransactClient:
    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = 0

    def transact_write_items(self, TransactItems):
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return {}


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (None, SubscribeOutcome.ADDED),
        (_cancelled("None", "ConditionalCheckFailed"), SubscribeOutcome.ALREADY_SUBSCRIBED),
        (
            _cancelled("ConditionalCheckFailed", "ConditionalCheckFailed", item=True),
            SubscribeOutcome.ALREADY_SUBSCRIBED,
        ),
        (_cancelled("ConditionalCheckFailed", "None", item=True), SubscribeOutcome.LIMIT_REACHED),
        (_cancelled("ConditionalCheckFailed", "None"), SubscribeOutcome.CONNECTION_GONE),
    ],
)
def test_cancellation_reasons_become_outcomes(answer, outcome):
    table = ConnectionsTable(TransactClient(answer), TABLE)
    assert table.add_subscription("news", "c1", "u1", 10, 5, "w1") is outcome


def test_a_conflicting_transaction_is_retried_then_a_store_error():
    conflict = _cancelled("TransactionConflict", "None")
    client = TransactClient(conflict, None)
    assert (
        ConnectionsTable(client, TABLE).add_subscription("n", "c1", "u1", 10, 5, "w1").value
        == "added"
    )
    client = TransactClient(conflict, conflict, conflict)
    with pytest.raises(StoreError):
        ConnectionsTable(client, TABLE).add_subscription("n", "c1", "u1", 10, 5, "w1")
    assert client.calls == 3


def test_throttling_inside_a_transaction_is_a_store_error():
    client = TransactClient(_cancelled("ThrottlingError", "None"))
    with pytest.raises(StoreError):
        ConnectionsTable(client, TABLE).add_subscription("n", "c1", "u1", 10, 5, "w1")
