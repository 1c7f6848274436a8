"""Per-connection budgets: how much one connection may make the system do per second.

One token bucket per connection, in units: a ``subscribe``, a ``presence`` or a ``resume``
request costs one unit, and every 32 KB a resume replays one more (API Gateway meters
WebSocket messages in 32 KB units). The bucket holds ``burst`` units and refills at
``per_second``; a request that finds it empty is answered ``rate_limited`` with
``retryAfter`` (whole seconds). ``ping`` is free: it is how a client keeps its connection.

The bucket is one number on the connection row, the generic cell rate algorithm's
theoretical arrival time (``budgetTat``, epoch milliseconds: when the bucket would be full
again), so taking units is one conditional ``UpdateItem`` whatever Lambda container
serves the request, and two requests at once can never both take the last unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from wspush.models.connection import BudgetSpend

UNIT_BYTES = 32 * 1024


class BudgetStore(Protocol):
    def spend_budget(
        self,
        connection_id: str,
        owner_entity_id: str | None,
        cost_ms: int,
        now_ms: int,
        tolerance_ms: int,
    ) -> BudgetSpend: ...
    def charge_budget(
        self, connection_id: str, owner_entity_id: str | None, cost_ms: int
    ) -> None: ...


@dataclass(frozen=True)
class Budgets:
    """Where the buckets are kept, and how fast they refill and how much they hold."""

    store: BudgetStore
    per_second: int
    burst: int

    @property
    def _unit_ms(self) -> float:
        return 1000.0 / self.per_second


@dataclass(frozen=True)
class Spent:
    """Units taken: how many are left (for a resume's replay)."""

    left: int
    gone: bool = False  # the connection row is gone: it is closing


@dataclass(frozen=True)
class Refused:
    """The bucket was empty: try again in ``retry_after`` seconds."""

    retry_after: int


def take(
    budgets: Budgets, connection_id: str, entity_id: str | None, now: float, units: int = 1
) -> Spent | Refused:
    """Take ``units`` from the connection's bucket, or say when they will be there. A
    connection whose row is gone (closing) is not refused; it has nothing left."""
    unit_ms = budgets._unit_ms
    now_ms = int(now * 1000)
    spend = budgets.store.spend_budget(
        connection_id,
        entity_id,
        cost_ms=math.ceil(units * unit_ms),
        now_ms=now_ms,
        tolerance_ms=int(budgets.burst * unit_ms),
    )
    if spend.tat_ms is None:
        return Spent(left=0, gone=True)
    if not spend.allowed:
        # The bucket is full again at tat; the units are there once tat - cost <= now + ...
        wait_ms = spend.tat_ms + units * unit_ms - now_ms - budgets.burst * unit_ms
        return Refused(retry_after=max(1, math.ceil(wait_ms / 1000)))
    left = (now_ms + budgets.burst * unit_ms - spend.tat_ms) // unit_ms
    return Spent(left=max(0, int(left)))


def charge_replay(
    budgets: Budgets, connection_id: str, entity_id: str | None, replayed_bytes: int
) -> None:
    """Charge the units a resume's replay used (the request's own unit was taken before
    it was planned, and the replay planned within what was left)."""
    units = math.ceil(replayed_bytes / UNIT_BYTES)
    if units:
        cost_ms = math.ceil(units * budgets._unit_ms)
        budgets.store.charge_budget(connection_id, entity_id, cost_ms)
