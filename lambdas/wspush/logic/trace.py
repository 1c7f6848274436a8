"""A push's trace: the delivery record kept for the history window.

Write pattern: one item per coordinator invocation of the push (a *part*), written once,
by ``logic.coordinator.finish``, when that invocation ends (done, handed on, or failed).
Shard workers write nothing: their attempts come back to the coordinator in their results.
A push that fits one invocation writes one item; a push handed on N times writes N + 1,
each to its own key, so no two invocations ever write the same item (no contention, no
read-modify-write) and no part outgrows DynamoDB's 400 KB item limit: the part keeps at
most ``max_connections`` attempts (with their outcome, HTTP status, error type, start and
duration), then counts and a sample of the failures. Receipts are appended to a separate
item of the same push (``record_ack``), so they never race a part either.

Reading merges the parts in order: ``read`` answers the record the CLI, the SDK and the
publish API's ``GET /publish/<id>`` show.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from wspush.models.push import FAILURE_SAMPLE, DeliveryReport, PushStatus

DEFAULT_MAX_CONNECTIONS = 1000
ATTEMPT_FIELDS = ("connectionId", "outcome", "status", "error", "startMs", "durationMs")


class TraceStore(Protocol):
    def put_trace_part(
        self, push_id: str, part: int, record: dict[str, Any], expires_at: int
    ) -> bool | None:
        """False when the id's trace is another channel's push's."""
        ...

    def trace_parts(self, push_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The push's parts in order, and its acknowledgements."""
        ...

    def add_trace_ack(
        self, push_id: str, channel: str, connection_id: str, at_ms: int, expires_at: int
    ) -> None: ...


@dataclass(frozen=True)
class TraceKeeping:
    """Where traces go, for how long, and how many connections one keeps in full."""

    store: TraceStore
    retention_seconds: int
    max_connections: int = DEFAULT_MAX_CONNECTIONS


def bounded_attempts(
    attempts: list[list[Any]], omitted: int, room: int
) -> tuple[list[list[Any]], int, int]:
    """The attempts a part keeps: the first ``room`` in full, then failures up to a sample;
    how many it leaves out (counted, not kept), and how many of the bound it used."""
    kept = attempts[: max(room, 0)]
    rest = attempts[len(kept) :]
    failures = [a for a in rest if a[1] == "failed"][:FAILURE_SAMPLE]
    return kept + failures, omitted + len(rest) - len(failures), len(kept)


def part_record(
    *,
    envelope: dict[str, Any],
    audience: str,
    status: PushStatus,
    part: int,
    accepted_at: float,
    invoked_at: float,
    report: DeliveryReport,
    attempts: list[list[Any]],
    omitted: int,
    totals: dict[str, Any],
    shards_failed: list[str],
) -> dict[str, Any]:
    """One invocation's part of the trace (JSON): ``attempts`` as ``bounded_attempts``
    left them; ``report`` the push's so far (its reasons and pages are cumulative)."""
    last_post_ms = max((a[4] + a[5] for a in attempts), default=None)
    record = {
        "id": envelope.get("id"),
        "channel": envelope.get("channel"),
        "seq": envelope.get("seq"),
        "audience": audience,
        "status": status.value,
        "part": part,
        "acceptedAt": round(accepted_at, 3),
        "invokedAt": round(invoked_at, 3),
        "endedAt": round(time.time(), 3),
        "lastPostAt": round(last_post_ms / 1000, 3) if last_post_ms is not None else None,
        "totals": totals,  # the push's counts so far, this part included
        "pages": report.pages,
        "reasons": report.reasons,
        "shardsFailed": shards_failed[:20],
        "attempts": attempts,
        "attemptsOmitted": omitted,
    }
    return record


def record_ack(
    keeping: TraceKeeping, push_id: str, channel: str, connection_id: str, at: float
) -> None:
    """Add "acknowledged by ``connection_id`` at ``at``" to the trace of the push ``push_id``
    on ``channel``."""
    expires_at = int(at) + keeping.retention_seconds
    keeping.store.add_trace_ack(push_id, channel, connection_id, int(at * 1000), expires_at)


def read(store: TraceStore, push_id: str) -> dict[str, Any] | None:
    """The push's trace, its parts merged; None when none is kept (unknown id, expired)."""
    parts, acks = store.trace_parts(push_id)
    if not parts:
        return None
    # The id's first push owns the trace: another channel's push with the id is left out.
    parts = [p for p in parts if p.get("channel") == parts[0].get("channel")]
    # So is an ack of another channel's push with the id.
    acks = [
        {"connectionId": a["connectionId"], "atMs": a["atMs"]}
        for a in acks
        if a.get("channel") == parts[0].get("channel")
    ]
    last = parts[-1]
    first = parts[0]
    attempts = [dict(zip(ATTEMPT_FIELDS, a, strict=False)) for p in parts for a in p["attempts"]]
    last_posts = [p["lastPostAt"] for p in parts if p.get("lastPostAt") is not None]
    return {
        "id": last["id"],
        "channel": last["channel"],
        "seq": last["seq"],
        "audience": last["audience"],
        "status": last["status"],
        "acceptedAt": first["acceptedAt"],
        "lastPostAt": max(last_posts) if last_posts else None,
        "endedAt": last["endedAt"],
        "resolved": {
            "rows": last["totals"].get("targeted", 0),
            "pages": last.get("pages", 0),
            "shards": last["totals"].get("shards", 0),
            "handOns": last["totals"].get("handOns", 0),
        },
        "totals": last["totals"],
        "reasons": last.get("reasons", {}),
        "shardsFailed": last.get("shardsFailed", []),
        "invocations": [
            {"part": p["part"], "invokedAt": p["invokedAt"], "endedAt": p["endedAt"]} for p in parts
        ],
        "connections": attempts,
        "connectionsOmitted": sum(p.get("attemptsOmitted", 0) for p in parts),
        "acks": acks,
    }


def render(trace: dict[str, Any]) -> str:
    """The trace as a person reads it (``wspush trace ID``)."""

    def at(seconds: float | None) -> str:
        if seconds is None:
            return "-"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        return f"{stamp}.{int(seconds * 1000) % 1000:03d}Z"

    totals = trace["totals"]
    resolved = trace["resolved"]
    lines = [
        f"push {trace['id']}  {trace['status']}",
        f"  channel   {trace['channel']}  seq {trace['seq']}  audience {trace['audience']}",
        f"  accepted  {at(trace['acceptedAt'])}",
        f"  last post {at(trace['lastPostAt'])}  (ended {at(trace['endedAt'])})",
        "  resolved  {rows} rows, {pages} pages, {shards} shards, {handOns} hand-ons".format(
            **resolved
        ),
        "  outcome   {sent} sent, {gone} gone, {failed} failed of {targeted}"
        " ({throttled} throttled posts)".format(**totals),
    ]
    for reason, n in sorted(trace["reasons"].items()):
        lines.append(f"  failed    {n} x {reason}")
    for shard in trace["shardsFailed"]:
        lines.append(f"  shard failed: {shard}")
    if trace["connections"]:
        lines.append("  connections:")
        for c in trace["connections"]:
            why = "" if c["outcome"] == "sent" else f"  {c['status'] or '-'} {c['error'] or ''}"
            lines.append(
                f"    {c['connectionId']:<24} {c['outcome']:<7}"
                f" {at(c['startMs'] / 1000)} {c['durationMs']} ms{why}".rstrip()
            )
    if trace["connectionsOmitted"]:
        lines.append(f"    … {trace['connectionsOmitted']} more not kept (counts above)")
    for ack in trace["acks"]:
        lines.append(f"  acked by  {ack['connectionId']} at {at(ack['atMs'] / 1000)}")
    return "\n".join(lines)
