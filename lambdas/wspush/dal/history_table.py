"""The history table: each channel's counter, its kept pushes, push-id claims, and topic
occupancy counts. One table, partition ``channel`` (S), sort ``seq`` (N), TTL ``expiresAt``.

- counter: ``(topic:news, 0)`` with ``latest`` and ``epoch``;
- a kept push: ``(topic:news, 1, 2, …)`` with ``epoch``, ``body`` (the envelope as sent),
  ``ts`` and ``pushId``;
- the claim of a push id in a channel: ``(push#<id>#<channel>, 0)`` with ``claimedAt`` and
  ``fingerprint`` (the request's content, ``PushRequest.fingerprint``), then ``assigned``
  and ``epoch``;
- a topic's occupancy: ``(occupancy#<topic>, 0)`` with one count per expiry bucket,
  ``until<epoch seconds>`` (the subscribers counted until then), and ``expiresAt`` at the
  latest bucket's end.

- a push's trace: ``(trace#<id>, 1, 2, …)``, one item per coordinator invocation, with
  ``record`` (the part as JSON, ``logic.trace``), and ``(trace#<id>, 0)`` with ``acks``
  (a list of ``{connectionId, atMs}``); both with ``expiresAt`` at the history window's end.

No channel name contains ``#`` before its ``:``, so the prefixes never collide with one,
and no push id contains ``#``, so a claim's key names exactly one id and one channel.
"""

from __future__ import annotations

import json
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from wspush.models.channel import Claim, HistoryEntry, Position
from wspush.models.errors import StoreError

CLAIM_PREFIX = "push#"
OCCUPANCY_PREFIX = "occupancy#"
TRACE_PREFIX = "trace#"
OCCUPANCY_BUCKET = "until"
META_SEQ = 0
PAGE_SIZE = 100


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _condition_failed(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    return code in ("ConditionalCheckFailedException", "TransactionCanceledException")


def _claim_key(push_id: str, channel: str) -> str:
    return f"{CLAIM_PREFIX}{push_id}#{channel}"


def _entry(item: dict[str, Any]) -> HistoryEntry:
    return HistoryEntry(
        seq=int(item["seq"]["N"]),
        epoch=item.get("epoch", {}).get("S", ""),
        body=item.get("body", {}).get("S", ""),
        ts=item.get("ts", {}).get("S", ""),
    )


class HistoryTable:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            return self._call_raw(operation, **params)
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"{operation} on {self._table} failed: {error}") from error

    def _conditional(self, operation: str, **params: Any) -> bool:
        """Run a conditional write; False when its condition did not hold."""
        try:
            self._call_raw(operation, **params)
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise StoreError(f"{operation} on {self._table} failed: {error}") from error
        except BotoCoreError as error:
            raise StoreError(f"{operation} on {self._table} failed: {error}") from error
        return True

    def _call_raw(self, operation: str, **params: Any) -> dict[str, Any]:
        response: dict[str, Any] = getattr(self._client, operation)(TableName=self._table, **params)
        return response

    def _key(self, channel: str, seq: int = META_SEQ) -> dict[str, Any]:
        return {"channel": _s(channel), "seq": _n(seq)}

    # Numbering a push ---------------------------------------------------------------------

    def claim(
        self, push_id: str, channel: str, fingerprint: str, now: int, expires_at: int
    ) -> Claim:
        """Claim a push id in ``channel`` for a push of ``fingerprint``; an id claimed there
        before returns what it holds. A claim past its ``expiresAt`` (TTL deletes lazily) is
        over: the id is claimed anew, so an id sent again after the history window is a new
        push, never a stale one."""
        key = self._key(_claim_key(push_id, channel))
        item = {
            **key,
            "claimedAt": _n(now),
            "fingerprint": _s(fingerprint),
            "expiresAt": _n(expires_at),
        }
        if self._conditional(
            "put_item",
            Item=item,
            ConditionExpression="attribute_not_exists(channel) OR expiresAt <= :now",
            ExpressionAttributeValues={":now": _n(now)},
        ):
            return Claim(fresh=True, claimed_at=now, fingerprint=fingerprint)
        held = self._call("get_item", Key=key, ConsistentRead=True).get("Item", {})
        assigned = held.get("assigned", {}).get("N")
        return Claim(
            fresh=False,
            claimed_at=int(held.get("claimedAt", {}).get("N", "0")),
            fingerprint=held.get("fingerprint", {}).get("S", ""),
            seq=int(assigned) if assigned is not None else None,
            epoch=held.get("epoch", {}).get("S", ""),
        )

    def claimed_fingerprint(self, push_id: str, channel: str, now: int) -> str | None:
        """The fingerprint a live claim of ``push_id`` in ``channel`` holds; None when the
        id is free there (never claimed, or its claim expired)."""
        item = self._call(
            "get_item", Key=self._key(_claim_key(push_id, channel)), ConsistentRead=True
        ).get("Item")
        if not item or int(item.get("expiresAt", {}).get("N", "0")) <= now:
            return None
        return str(item.get("fingerprint", {}).get("S", ""))

    def take_over(self, push_id: str, channel: str, seen_claimed_at: int, now: int) -> bool:
        """Take a stale, never-numbered claim over; False if someone else got there first."""
        return self._conditional(
            "update_item",
            Key=self._key(_claim_key(push_id, channel)),
            UpdateExpression="SET claimedAt = :now",
            ConditionExpression="attribute_not_exists(assigned) AND claimedAt = :seen",
            ExpressionAttributeValues={":now": _n(now), ":seen": _n(seen_claimed_at)},
        )

    def next_position(self, channel: str, new_epoch: str, expires_at: int) -> Position:
        """Atomically take the channel's next number (the counter starts at 1 under
        ``new_epoch`` when the channel has none, or after its counter expired)."""
        response = self._call(
            "update_item",
            Key=self._key(channel),
            UpdateExpression=(
                "SET epoch = if_not_exists(epoch, :epoch), expiresAt = :expires ADD latest :one"
            ),
            ExpressionAttributeValues={
                ":epoch": _s(new_epoch),
                ":expires": _n(expires_at),
                ":one": _n(1),
            },
            ReturnValues="ALL_NEW",
        )
        attributes = response["Attributes"]
        return Position(seq=int(attributes["latest"]["N"]), epoch=attributes["epoch"]["S"])

    def record(self, channel: str, entry: HistoryEntry, push_id: str, expires_at: int) -> None:
        """Keep the push and mark its claim numbered, in one transaction."""
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                **self._key(channel, entry.seq),
                                "epoch": _s(entry.epoch),
                                "body": _s(entry.body),
                                "ts": _s(entry.ts),
                                "pushId": _s(push_id),
                                "expiresAt": _n(expires_at),
                            },
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": self._key(_claim_key(push_id, channel)),
                            "UpdateExpression": "SET assigned = :seq, epoch = :epoch",
                            "ExpressionAttributeValues": {
                                ":seq": _n(entry.seq),
                                ":epoch": _s(entry.epoch),
                            },
                        }
                    },
                ]
            )
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"transact_write_items on {self._table} failed: {error}") from error

    # Reading history ----------------------------------------------------------------------

    def position(self, channel: str) -> Position | None:
        """The channel's latest number and epoch; None if it has no counter."""
        item = self._call("get_item", Key=self._key(channel), ConsistentRead=True).get("Item")
        if not item or "latest" not in item:
            return None
        return Position(seq=int(item["latest"]["N"]), epoch=item["epoch"]["S"])

    def entry(self, channel: str, seq: int) -> HistoryEntry | None:
        item = self._call("get_item", Key=self._key(channel, seq), ConsistentRead=True).get("Item")
        return _entry(item) if item else None

    def entries(
        self, channel: str, epoch: str, after: int, limit: int, now: int
    ) -> list[HistoryEntry]:
        """Up to ``limit`` live pushes of ``epoch`` numbered above ``after``, in order."""
        params: dict[str, Any] = {
            "KeyConditionExpression": "channel = :c AND seq > :after",
            # TTL deletes lazily: an expired row may still be there, and a row of an older
            # epoch may survive its counter. Neither is history any more.
            "FilterExpression": "epoch = :epoch AND expiresAt > :now",
            "ExpressionAttributeValues": {
                ":c": _s(channel),
                ":after": _n(max(after, META_SEQ)),
                ":epoch": _s(epoch),
                ":now": _n(now),
            },
            "ConsistentRead": True,
            "ScanIndexForward": True,
            "Limit": min(limit, PAGE_SIZE) if limit > 0 else PAGE_SIZE,
        }
        found: list[HistoryEntry] = []
        while len(found) < limit:
            page = self._call("query", **params)
            found.extend(_entry(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found[:limit]

    def oldest(self, channel: str, epoch: str, now: int) -> int | None:
        """The lowest number still kept in ``epoch``; None when nothing is kept."""
        first = self.entries(channel, epoch, META_SEQ, 1, now)
        return first[0].seq if first else None

    # Topic occupancy ----------------------------------------------------------------------

    def change_occupancy(self, topic: str, delta: int, until: int, now: int) -> int:
        """Add ``delta`` to a topic's count of subscribers counted until ``until``,
        atomically, and return how many subscribers count at ``now``: the sum of every
        bucket ending after it. Buckets that ended are removed; the item expires with its
        latest bucket."""
        key = self._key(OCCUPANCY_PREFIX + topic)
        params: dict[str, Any] = {
            "Key": key,
            "UpdateExpression": "ADD #bucket :delta",
            "ExpressionAttributeNames": {"#bucket": f"{OCCUPANCY_BUCKET}{until}"},
            "ExpressionAttributeValues": {":delta": _n(delta)},
            "ReturnValues": "ALL_NEW",
        }
        response = None
        if delta > 0:  # an arrival moves the item's expiry later, never earlier
            try:
                response = self._call_raw(
                    "update_item",
                    **{
                        **params,
                        "UpdateExpression": "ADD #bucket :delta SET expiresAt = :until",
                        "ConditionExpression": "attribute_not_exists(expiresAt) "
                        "OR expiresAt <= :until",
                        "ExpressionAttributeValues": {":delta": _n(delta), ":until": _n(until)},
                    },
                )
            except ClientError as error:
                if not _condition_failed(error):
                    raise StoreError(f"update_item on {self._table} failed: {error}") from error
            except BotoCoreError as error:
                raise StoreError(f"update_item on {self._table} failed: {error}") from error
        if response is None:
            response = self._call("update_item", **params)
        buckets = {
            int(name[len(OCCUPANCY_BUCKET) :]): int(value["N"])
            for name, value in response["Attributes"].items()
            if name.startswith(OCCUPANCY_BUCKET)
        }
        ended = [end for end in buckets if end <= now]
        if ended:
            self._call(
                "update_item",
                Key=key,
                UpdateExpression="REMOVE " + ", ".join(f"#e{i}" for i in range(len(ended))),
                ExpressionAttributeNames={
                    f"#e{i}": f"{OCCUPANCY_BUCKET}{end}" for i, end in enumerate(ended)
                },
            )
        return sum(count for end, count in buckets.items() if end > now)

    # A push's trace ---------------------------------------------------------------------

    def put_trace_part(
        self, push_id: str, part: int, record: dict[str, Any], expires_at: int
    ) -> bool:
        """Write one invocation's part of a push's trace (its own item: never contended).
        An id names one push per channel: a live part of another channel's push with the
        same id is kept, and this returns False."""
        body = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
        item = {**self._key(TRACE_PREFIX + push_id, part), "record": _s(body)}
        return self._conditional(
            "put_item",
            Item={**item, "expiresAt": _n(expires_at), "pushChannel": _s(str(record["channel"]))},
            ConditionExpression=(
                "attribute_not_exists(pushChannel) OR pushChannel = :channel OR expiresAt <= :now"
            ),
            ExpressionAttributeValues={
                ":channel": _s(str(record["channel"])),
                ":now": _n(int(time.time())),
            },
        )

    def add_trace_ack(
        self, push_id: str, channel: str, connection_id: str, at_ms: int, expires_at: int
    ) -> None:
        """Append "acknowledged by ``connection_id`` at ``at_ms``" to the push's trace; the
        ack names its push's ``channel`` (an id is unique only within one channel)."""
        ack = {"M": {"channel": _s(channel), "connectionId": _s(connection_id), "atMs": _n(at_ms)}}
        self._call(
            "update_item",
            Key=self._key(TRACE_PREFIX + push_id, META_SEQ),
            UpdateExpression=(
                "SET acks = list_append(if_not_exists(acks, :none), :ack), expiresAt = :expires"
            ),
            ExpressionAttributeValues={
                ":none": {"L": []},
                ":ack": {"L": [ack]},
                ":expires": _n(expires_at),
            },
        )

    def trace_parts(self, push_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """A push's trace parts in order, and its acknowledgements (expired ones left out)."""
        now = int(time.time())
        params: dict[str, Any] = {
            "KeyConditionExpression": "channel = :c",
            "ExpressionAttributeValues": {":c": _s(TRACE_PREFIX + push_id)},
            "ConsistentRead": True,
        }
        parts: list[dict[str, Any]] = []
        acks: list[dict[str, Any]] = []
        while True:
            page = self._call("query", **params)
            for item in page.get("Items", []):
                if int(item.get("expiresAt", {}).get("N", "0")) <= now:
                    continue
                if int(item["seq"]["N"]) == META_SEQ:
                    for ack in item.get("acks", {}).get("L", []):
                        fields = ack.get("M", {})
                        acks.append(
                            {
                                "channel": fields.get("channel", {}).get("S"),
                                "connectionId": fields["connectionId"]["S"],
                                "atMs": int(fields["atMs"]["N"]),
                            }
                        )
                    continue
                parts.append(json.loads(item["record"]["S"]))
            if "LastEvaluatedKey" not in page:
                break
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return parts, acks
