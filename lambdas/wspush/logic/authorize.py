"""The ``$connect`` authorization decision."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from wspush.logic import tokens
from wspush.logic.oidc import OidcVerifier

# Browsers cannot set an Authorization header on a WebSocket, so they offer the token as a
# subprotocol next to this one: new WebSocket(url, ["wspush", token]).
SUBPROTOCOL = "wspush"


@dataclass(frozen=True)
class AuthRequest:
    query_token: str | None
    subprotocols: Sequence[str]
    origin: str | None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    entity_id: str | None = None
    # The token's topics claim; None when it has none (then only public topics are readable).
    topics: tuple[str, ...] | None = None
    # The token's publish claim; None when it has none (then only public publish patterns).
    publish: tuple[str, ...] | None = None
    info: str | None = None  # the token's info claim, compact JSON (``tokens.info_claim``)

    def context(self) -> dict[str, str]:
        """What the routes receive as ``requestContext.authorizer`` (strings only: API
        Gateway's context holds no lists, so the patterns travel JSON-encoded)."""
        context = {"entityId": self.entity_id or ""}
        if self.topics is not None:
            context["topics"] = json.dumps(list(self.topics), separators=(",", ":"))
        if self.publish is not None:
            context["publish"] = json.dumps(list(self.publish), separators=(",", ":"))
        if self.info is not None:
            context["info"] = self.info
        return context


def parse_subprotocols(header: str | None) -> list[str]:
    return [p.strip() for p in (header or "").split(",") if p.strip()]


def presented_token(request: AuthRequest) -> str | None:
    """The query-string token wins; else the first subprotocol that is not ours."""
    if request.query_token:
        return request.query_token
    return next((p for p in request.subprotocols if p != SUBPROTOCOL), None)


def authorize(
    request: AuthRequest,
    load_secrets: Callable[[], Sequence[bytes]],
    allowed_origins: Collection[str],
    now: float | None = None,
    audience: str | None = None,
    issuer: str | None = None,
    oidc: OidcVerifier | None = None,
    hs256_enabled: bool = True,
) -> Decision:
    """Decide whether a connection may open. Never raises for bad input.

    The origin check applies only when an allow-list is configured and the client sent an
    Origin (browsers always do; other clients can forge it anyway, the token is the proof).

    A token naming one of ``oidc``'s trusted issuers is verified as that issuer's, and only
    so; any other token is one of wspush's own (HS256, signed with one of the secrets), if
    those are enabled. Both yield the same decision: an entity and its topic patterns.
    """
    if allowed_origins and request.origin is not None and request.origin not in allowed_origins:
        return Decision(False, "bad_origin")
    token = presented_token(request)
    if not token:
        return Decision(False, "missing")
    try:
        if oidc is not None and (not hs256_enabled or oidc.trusts(token)):
            identity = oidc.verify(token, now=now)
            return Decision(True, "ok", entity_id=identity.entity_id, topics=identity.topics)
        if not hs256_enabled:
            return Decision(False, "unknown_issuer")
        claims = tokens.verify(token, load_secrets(), now=now, audience=audience, issuer=issuer)
    except tokens.TokenError as error:
        return Decision(False, error.reason)
    topics = tokens.topic_patterns(claims)
    publish = tokens.publish_patterns(claims)
    return Decision(
        True,
        "ok",
        entity_id=claims["sub"],
        topics=None if topics is None else tuple(topics),
        publish=None if publish is None else tuple(publish),
        info=tokens.info_claim(claims),
    )
