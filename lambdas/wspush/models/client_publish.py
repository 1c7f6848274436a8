"""A client publish's hook: what it may answer, and how calling it can fail."""

from __future__ import annotations


class HookFailed(RuntimeError):
    """The publish hook could not be called, failed, timed out or answered nonsense. The
    message is log-safe and shown to the publisher."""
