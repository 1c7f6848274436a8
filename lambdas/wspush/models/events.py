"""Failures of the event bus that the logic must recognise."""


class PublishError(RuntimeError):
    """The event bus did not take an event."""
