"""The emulator's transactions: a cancelled one leaves every item as it was, and none
copies a whole table."""

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import TABLE


def _key(partition, connection="c1"):
    return {"entityId": {"S": partition}, "connectionId": {"S": connection}}


def _item(dynamodb, partition):
    return dynamodb.get_item(TableName=TABLE, Key=_key(partition)).get("Item")


def test_a_cancelled_transaction_puts_back_exactly_the_items_it_named(aws):
    dynamodb = aws["dynamodb"]
    dynamodb.put_item(TableName=TABLE, Item={**_key("kept"), "n": {"N": "1"}})
    dynamodb.put_item(TableName=TABLE, Item={**_key("bystander"), "n": {"N": "7"}})
    # When a transaction updates one item and puts another, then fails a condition
    with pytest.raises(ClientError, match="TransactionCanceled"):
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": _key("kept"),
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Put": {"TableName": TABLE, "Item": {**_key("new"), "n": {"N": "1"}}}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": _key("bystander"),
                        "ConditionExpression": "attribute_not_exists(n)",
                    }
                },
            ]
        )
    # Then the updated item is as it was, the put one absent, and the rest untouched
    assert _item(dynamodb, "kept")["n"] == {"N": "1"}
    assert _item(dynamodb, "new") is None
    assert _item(dynamodb, "bystander")["n"] == {"N": "7"}
    # And a transaction that succeeds applies every item
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {**_key("new"), "n": {"N": "2"}}}},
            {"Delete": {"TableName": TABLE, "Key": _key("kept")}},
        ]
    )
    assert _item(dynamodb, "new")["n"] == {"N": "2"} and _item(dynamodb, "kept") is None


def test_a_transaction_copies_no_table(aws, monkeypatch):
    # Given a table of a thousand items (a copy of it per transaction made a burst of
    # subscribes quadratic)
    from moto.dynamodb.models.table import Table

    copied = []
    monkeypatch.setattr(
        Table, "__deepcopy__", lambda table, memo: copied.append(table.name), raising=False
    )
    dynamodb = aws["dynamodb"]
    # When a transaction writes two of its items, and another is cancelled
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": _key("a")}},
            {"Put": {"TableName": TABLE, "Item": _key("b")}},
        ]
    )
    with pytest.raises(ClientError, match="TransactionCanceled"):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": _key("c")}},
                {
                    "Put": {
                        "TableName": TABLE,
                        "Item": _key("a"),
                        "ConditionExpression": "attribute_not_exists(entityId)",
                    }
                },
            ]
        )
    # Then no table was copied, and the cancelled one left nothing behind
    assert copied == []
    assert _item(dynamodb, "c") is None and _item(dynamodb, "a") is not None
