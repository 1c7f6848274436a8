"""wspush for backends: publish pushes, mint connection tokens, listen like a client.

    from wspush.sdk import Publisher, SigV4, SsmParameter, mint_token

    token = mint_token("alice", topics=["user:alice/*"], secret=SsmParameter(name))
    publisher = Publisher(publish_url, auth=SigV4(region="eu-west-1"))
    result = publisher.publish(entity="alice", type="order.shipped", payload={"id": 42})

``pip install wspush`` brings what these need (botocore); ``listen`` needs the
``listen`` extra (``pip install 'wspush[listen]'``) and is imported on first use, as is
``say`` (publish one message over the WebSocket, as a client).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wspush.models.publish import Status
from wspush.models.push import DeliveryReport
from wspush.sdk.publisher import (
    Bearer,
    FieldError,
    IdConflict,
    InvalidRequest,
    Message,
    NotAuthorized,
    Publisher,
    PublishError,
    PublishResult,
    RetriesExhausted,
    RetryPolicy,
    SigV4,
    TooLarge,
)
from wspush.sdk.tokens import SecretsManagerSecret, SsmParameter, mint_token

if TYPE_CHECKING:
    from wspush.sdk.listener import Published, PublishRefused, listen, say

__all__ = [
    "Bearer",
    "DeliveryReport",
    "FieldError",
    "IdConflict",
    "InvalidRequest",
    "Message",
    "NotAuthorized",
    "PublishError",
    "PublishRefused",
    "PublishResult",
    "Published",
    "Publisher",
    "RetriesExhausted",
    "RetryPolicy",
    "SecretsManagerSecret",
    "SigV4",
    "SsmParameter",
    "Status",
    "TooLarge",
    "listen",
    "mint_token",
    "say",
]

# aiohttp is the listen extra's: importing the SDK must not need it.
_LISTENER_NAMES = frozenset({"listen", "say", "Published", "PublishRefused"})


def __getattr__(name: str) -> Any:
    if name in _LISTENER_NAMES:
        from wspush.sdk import listener

        return getattr(listener, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
