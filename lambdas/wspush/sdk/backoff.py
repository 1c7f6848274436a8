"""The one backoff rule of the SDK: capped exponential with full jitter."""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff_delay(
    attempt: int, minimum: float, maximum: float, rand: Callable[[], float] = random.random
) -> float:
    """Full jitter: uniformly random below ``min(maximum, minimum * 2**attempt)``."""
    return rand() * min(maximum, minimum * 2.0 ** min(attempt, 30))
