"""The fallback for people who are offline: an entity or connection push that reached no
live connection publishes ``wspush.push.undelivered`` on the event bus, so a rule can send
an email, an SMS or a mobile push instead.

The event carries the envelope as it would have been sent. EventBridge takes at most
256 KB per event; an envelope is at most 128 KB as UTF-8, but the event's JSON escapes
non-ASCII text, so a large non-Latin payload can pass the limit: then the event carries
``envelopeRef``, where the history table keeps the envelope (``channel``, ``seq``,
``epoch``) for the history window, instead.
"""

from __future__ import annotations

import json
from typing import Any

from wspush.logic.receipts import EventPublisher
from wspush.models.events import PublishError
from wspush.models.push import DeliveryReport, PushRequest
from wspush.models.receipt import UNDELIVERED_DETAIL_TYPE
from wspush.observability import count, logger

# EventBridge's limit for one event, with room for its source, detail-type and time.
MAX_EVENT_BYTES = 256 * 1024
EVENT_OVERHEAD_BYTES = 1024


def undelivered_detail(
    request: PushRequest, message: dict[str, Any], report: DeliveryReport
) -> dict[str, Any] | None:
    """The event's detail when ``request`` (a personal push that did not opt out) was sent
    to no connection; None otherwise."""
    audience = request.audience
    personal = audience.entity_id is not None or audience.connection_id is not None
    if not personal or not request.fallback or report.sent > 0:
        return None
    detail: dict[str, Any] = {
        "id": message.get("id"),
        "channel": audience.describe(),
    }
    if audience.entity_id is not None:
        detail["entityId"] = audience.entity_id
    else:
        detail["connectionId"] = audience.connection_id
    detail.update(
        {
            "type": request.message_type,
            # Nobody was connected, or every connection there was could not be sent to.
            "reason": "no_connection" if report.targeted == 0 else "not_sent",
            "targeted": report.targeted,
            "gone": report.gone,
            "failed": report.failed,
            "envelope": message,
        }
    )
    if _size(detail) > MAX_EVENT_BYTES - EVENT_OVERHEAD_BYTES:
        del detail["envelope"]
        detail["envelopeRef"] = {
            key: message[key] for key in ("channel", "seq", "epoch") if key in message
        }
    return detail


def _size(detail: dict[str, Any]) -> int:
    # As the event bus encodes it: compact, non-ASCII escaped (the larger of the two).
    return len(json.dumps(detail, separators=(",", ":")).encode("ascii"))


def report_undelivered(
    events: EventPublisher | None,
    request: PushRequest,
    message: dict[str, Any],
    report: DeliveryReport,
) -> bool:
    """Publish ``wspush.push.undelivered`` when the push reached no one; True if it did.
    A bus that refuses the event is logged and counted, never fatal: the push's own
    outcome stands."""
    if events is None:
        return False
    detail = undelivered_detail(request, message, report)
    if detail is None:
        return False
    try:
        events.publish(UNDELIVERED_DETAIL_TYPE, detail)
    except PublishError as error:
        count("UndeliveredEventFailed")
        logger.error("undelivered event not published", extra={"reason": str(error)})
        return False
    count("PushUndelivered")
    logger.info(
        "push undelivered: event published",
        extra={"reason": detail["reason"], "byReference": "envelopeRef" in detail},
    )
    return True
