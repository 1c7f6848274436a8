"""A shard of a push's audience, and how shards travel between invocations.

A shard is a range of one read of the connections table, resumable from any item:

- a broadcast shard is one segment of a parallel ``Scan`` (``segment`` of ``total_segments``);
- a topic or entity shard is a range of one partition's ``Query`` (``partition``), sorted by
  ``connectionId``, ending at ``through`` (inclusive) or at the end of the partition.

A topic push whose subscribers sit in several partitions (the topic's own and those of
the patterns matching it) has one shard per partition, each naming the pushed topic in
``among``: such a shard delivers a row only when it is its connection's delivering
subscription (``logic.topics.delivering_subscription``), so every connection gets one copy
whichever shards run and in whatever order.

``after`` is the key of the last item already attempted (DynamoDB's ``ExclusiveStartKey``),
so a worker that stops hands on exactly the items it did not attempt, whatever was written
or deleted meanwhile.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from wspush.models.push import DeliveryReport


@dataclass(frozen=True)
class ItemKey:
    """A table item's primary key."""

    partition_key: str
    connection_id: str

    def as_dict(self) -> dict[str, str]:
        return {"entityId": self.partition_key, "connectionId": self.connection_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ItemKey:
        return cls(str(data["entityId"]), str(data["connectionId"]))


@dataclass(frozen=True)
class Shard:
    partition: str | None = None  # a Query of this partition; None: a Scan segment
    segment: int = 0
    total_segments: int = 1
    after: ItemKey | None = None
    through: str | None = None  # Query shards: the last connectionId of the range
    among: str | None = None  # the pushed topic, when its audience spans several partitions

    def resumed_after(self, key: ItemKey) -> Shard:
        return replace(self, after=key)

    def describe(self) -> str:
        if self.partition is None:
            return f"scan segment {self.segment}/{self.total_segments}"
        shown = f"query {self.partition} through {self.through or 'end'}"
        return f"{shown} among {self.among}" if self.among else shown

    def as_dict(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "segment": self.segment,
            "totalSegments": self.total_segments,
            "after": self.after.as_dict() if self.after else None,
            "through": self.through,
            **({"among": self.among} if self.among else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Shard:
        after = data.get("after")
        return cls(
            partition=data.get("partition"),
            segment=int(data.get("segment", 0)),
            total_segments=int(data.get("totalSegments", 1)),
            after=ItemKey.from_dict(after) if after else None,
            through=data.get("through"),
            among=data.get("among"),
        )


@dataclass
class ShardResult:
    """What one worker invocation did with its shard: its report, and the rest of the shard
    (``remainder``) when it stopped early (target budget or deadline)."""

    report: DeliveryReport
    remainder: Shard | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.report.as_dict(),
            "failedConnectionIds": self.report.failed_connection_ids[:50],
            "remainder": self.remainder.as_dict() if self.remainder else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShardResult:
        remainder = data.get("remainder")
        return cls(
            DeliveryReport.from_dict(data), Shard.from_dict(remainder) if remainder else None
        )


class ShardFailed(RuntimeError):
    """A shard invocation failed (function error, timeout) after its retries."""


class ShardThrottled(ShardFailed):
    """Lambda refused a shard invocation for concurrency (``TooManyRequestsException``):
    the shard never ran, and runs again later."""


def encode_task(task: dict[str, Any]) -> bytes:
    """A shard or hand-on task as its invoke payload: compact UTF-8 JSON, not
    ASCII-escaped, so the envelope in it takes exactly the bytes it is sent as."""
    return json.dumps(task, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
