"""Deterministic interleavings of concurrent code paths, one DynamoDB call at a time.

Each path runs in its own thread, but a path may only make its next call through a
``Paced`` client when the scheduler gives it the turn: the scheduler waits until every
path is blocked at a call (or finished), then lets exactly one of them, picked by a
seeded random, make that call. A seed is therefore one reproducible interleaving of the
paths at every point where they touch the table, with the real data layer underneath.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any


class Interleaving:
    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)
        self._changed = threading.Condition()
        self._waiting: set[str] = set()
        self._done: set[str] = set()
        self._turn: str | None = None
        self._paths: set[str] = set()
        self.calls: list[tuple[str, str]] = []  # (path, operation), in the order they ran

    def client(self, real: Any) -> Paced:
        return Paced(self, real)

    def before_call(self, operation: str) -> None:
        path = threading.current_thread().name
        if path not in self._paths:
            return  # set-up and checks, outside the interleaving
        with self._changed:
            self._waiting.add(path)
            self._changed.notify_all()
            self._changed.wait_for(lambda: self._turn == path)
            self._turn = None
            self.calls.append((path, operation))
            self._changed.notify_all()

    def run(self, paths: dict[str, Callable[[], Any]]) -> dict[str, Any]:
        """Run every path to its end, interleaved; returns what each returned."""
        self._paths = set(paths)
        results: dict[str, Any] = {}
        errors: list[BaseException] = []

        def run_path(name: str, path: Callable[[], Any]) -> None:
            try:
                results[name] = path()
            except BaseException as error:  # re-raised by the test's thread below
                errors.append(error)
            finally:
                with self._changed:
                    self._done.add(name)
                    self._changed.notify_all()

        threads = [
            threading.Thread(target=run_path, args=(name, path), name=name, daemon=True)
            for name, path in paths.items()
        ]
        for thread in threads:
            thread.start()
        with self._changed:
            while True:
                settled = self._changed.wait_for(
                    lambda: self._waiting | self._done == self._paths, timeout=30
                )
                assert settled, "a path neither called the table nor finished within 30 s"
                if self._done == self._paths:
                    break
                chosen = self._random.choice(sorted(self._waiting))
                self._waiting.discard(chosen)
                self._turn = chosen
                self._changed.notify_all()
                self._changed.wait_for(lambda: self._turn is None)
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return results


class Paced:
    """A boto3 client whose every call waits for its path's turn."""

    def __init__(self, interleaving: Interleaving, real: Any) -> None:
        self._interleaving = interleaving
        self._real = real

    def __getattr__(self, operation: str) -> Any:
        method = getattr(self._real, operation)

        def paced(*args: Any, **kwargs: Any) -> Any:
            self._interleaving.before_call(operation)
            return method(*args, **kwargs)

        return paced
