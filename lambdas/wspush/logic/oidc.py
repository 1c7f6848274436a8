"""Tokens from OpenID Connect providers (Cognito, Auth0, Okta, Entra ID, Keycloak).

A token is checked in an order that leaves an attacker nothing to choose:

1. the issuer, by the token's exact ``iss``, among the trusted ones (``unknown_issuer``);
2. the key, by the header's ``kid``, in that issuer's key set only: the same key material
   published by two issuers still verifies only tokens naming the issuer it was fetched
   for (``missing_kid``, ``unknown_kid``, ``ambiguous_kid``);
3. the algorithm, from the key and the issuer's ``algorithms``; a header naming another
   one (``none``, ``HS256``) is refused, and ``jku``, ``x5u``, ``jwk`` and ``x5c`` headers
   are never read, so a token cannot bring its own key;
4. the signature, then ``exp``/``nbf``/``iat`` with a small leeway, ``token_use``, and the
   audience: a token with ``aud`` (an ID token) must name one of ``audiences``, one
   without (a Cognito access token) must carry a ``client_id`` among ``client_ids``.

The entity and topic patterns it yields are those an HS256 token's ``sub`` and ``topics``
would: the authorizer's context is the same whichever kind of token opened a connection.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wspush.logic import strict_json, tokens
from wspush.logic.jwks import ALGORITHMS, RS256, KeySet
from wspush.logic.tokens import TokenError
from wspush.models.identifiers import is_valid_entity_id, is_valid_topic_pattern

TOKEN_USES = ("id", "access")
# A claim holding several values as one string (OAuth's `scope`, Cognito's custom
# attributes, which are strings only) separates them with spaces (RFC 6749 3.3) or commas.
_VALUE_SEPARATORS = re.compile(r"[ ,]+")


@dataclass(frozen=True)
class GroupTopics:
    """Topic patterns granted by the values of one claim (``cognito:groups``, ``scope``,
    ``groups``, ``roles``): ``patterns["admins"] == ("*",)``."""

    claim: str
    patterns: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class TrustedIssuer:
    issuer: str
    audiences: frozenset[str] = frozenset()  # an ID token's `aud`
    client_ids: frozenset[str] = frozenset()  # a Cognito access token's `client_id`
    jwks_uri: str | None = None  # else from the discovery document (Cognito: its JWKS URL)
    entity_claim: str = "sub"
    topics_claim: str | None = None
    group_topics: GroupTopics | None = None
    token_use: frozenset[str] | None = None  # Cognito's `token_use` values accepted
    algorithms: frozenset[str] = field(default_factory=lambda: frozenset({RS256}))


@dataclass(frozen=True)
class Identity:
    """What a verified token grants: the entity, and its topic patterns (``None`` when it
    grants none, as an HS256 token without a ``topics`` claim)."""

    entity_id: str
    topics: tuple[str, ...] | None


# The key set of an issuer that should hold ``kid``; the data-access layer fetches and
# caches it (and may raise its own error when the issuer cannot be reached).
KeyLookup = Callable[[TrustedIssuer, str], KeySet]


def _strings(value: Any, name: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{name} must be a list of non-empty strings")
    return frozenset(value)


def _patterns(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(is_valid_topic_pattern(p) for p in value):
        raise ValueError(f"{name} must be a list of topic patterns")
    return tuple(value)


def _optional_string(entry: Mapping[str, Any], name: str) -> str | None:
    value = entry.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError(f"{name} must be a non-empty string")
    return value


def _group_topics(value: Any) -> GroupTopics | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("patterns"), dict):
        raise ValueError("group_topics must be {claim, patterns: {value: [pattern, ...]}}")
    claim = _optional_string(value, "claim")
    if claim is None:
        raise ValueError("group_topics.claim is required")
    patterns = {
        group: _patterns(granted, f"group_topics.patterns[{group!r}]")
        for group, granted in value["patterns"].items()
    }
    return GroupTopics(claim, patterns)


def _trusted_issuer(entry: Any) -> TrustedIssuer:
    if not isinstance(entry, dict) or not isinstance(entry.get("issuer"), str):
        raise ValueError("each issuer is an object with an `issuer` string")
    audiences = _strings(entry.get("audiences"), "audiences")
    client_ids = _strings(entry.get("client_ids"), "client_ids")
    if not audiences and not client_ids:
        raise ValueError("needs audiences (ID tokens) or client_ids (access tokens)")
    token_use = entry.get("token_use")
    if token_use is not None:
        token_use = _strings(token_use, "token_use")
        if not token_use or not token_use <= set(TOKEN_USES):
            raise ValueError(f"token_use must be a non-empty subset of {list(TOKEN_USES)}")
    algorithms = _strings(entry.get("algorithms") or [RS256], "algorithms")
    if not algorithms <= set(ALGORITHMS):
        raise ValueError(f"algorithms must be among {list(ALGORITHMS)}")
    return TrustedIssuer(
        issuer=entry["issuer"],
        audiences=audiences,
        client_ids=client_ids,
        jwks_uri=_optional_string(entry, "jwks_uri"),
        entity_claim=_optional_string(entry, "entity_claim") or "sub",
        topics_claim=_optional_string(entry, "topics_claim"),
        group_topics=_group_topics(entry.get("group_topics")),
        token_use=token_use,
        algorithms=algorithms,
    )


def parse_issuers(document: Any) -> tuple[TrustedIssuer, ...]:
    """The trusted issuers of a configuration (a JSON list, absent attributes as null);
    ``ValueError`` naming the issuer and the problem."""
    if not isinstance(document, list):
        raise ValueError("the trusted issuers are a list")
    issuers = []
    for number, entry in enumerate(document, start=1):
        try:
            issuers.append(_trusted_issuer(entry))
        except ValueError as error:
            raise ValueError(f"issuer {number}: {error}") from None
    names = [issuer.issuer for issuer in issuers]
    if len(set(names)) != len(names):
        raise ValueError("an issuer is listed twice")
    return tuple(issuers)


def _values(claims: Mapping[str, Any], name: str) -> list[str]:
    """A claim's values: a list of strings, or one string of them; none when absent."""
    value = claims.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in _VALUE_SEPARATORS.split(value) if v]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise TokenError("invalid_topics")


def _granted_topics(claims: Mapping[str, Any], issuer: TrustedIssuer) -> tuple[str, ...] | None:
    granted: list[str] = []
    if issuer.topics_claim is not None:
        granted.extend(_values(claims, issuer.topics_claim))
    if issuer.group_topics is not None:
        for value in _values(claims, issuer.group_topics.claim):
            granted.extend(issuer.group_topics.patterns.get(value, ()))
    if not granted:
        return None
    # The same checks, and the same size limit, as an HS256 token's `topics` claim.
    checked = tokens.topic_patterns({"topics": list(dict.fromkeys(granted))})
    return None if checked is None else tuple(checked)


def _check_audience(claims: Mapping[str, Any], issuer: TrustedIssuer) -> None:
    if "aud" in claims:
        audience = claims["aud"]
        named = [audience] if isinstance(audience, str) else audience
        if not isinstance(named, list) or not issuer.audiences.intersection(
            a for a in named if isinstance(a, str)
        ):
            raise TokenError("bad_audience")
        return
    if claims.get("client_id") not in issuer.client_ids:
        raise TokenError("bad_audience")


class OidcVerifier:
    """Verifies tokens of ``issuers`` with the keys ``key_lookup`` finds."""

    def __init__(
        self,
        issuers: Sequence[TrustedIssuer],
        key_lookup: KeyLookup,
        leeway: int = tokens.DEFAULT_LEEWAY_SECONDS,
    ) -> None:
        self._issuers = {issuer.issuer: issuer for issuer in issuers}
        self._key_lookup = key_lookup
        self._leeway = leeway

    def trusts(self, token: str) -> bool:
        """Whether ``token`` names one of the trusted issuers (read before any check: only
        to choose how to verify it)."""
        try:
            return self._issuer_of(tokens.split_compact(token)) is not None
        except TokenError:
            return False

    def _issuer_of(self, compact: tokens.CompactToken) -> TrustedIssuer | None:
        issuer = tokens.decode_segment(compact.payload).get("iss")
        return self._issuers.get(issuer) if isinstance(issuer, str) else None

    def verify(self, token: str, now: float | None = None) -> Identity:
        """The identity a valid token grants, or ``TokenError``."""
        if not token:
            raise TokenError("missing")
        compact = tokens.split_compact(token)
        if "crit" in compact.header:  # RFC 7515 4.1.11: extensions we do not implement
            raise TokenError("malformed")
        issuer = self._issuer_of(compact)
        if issuer is None:
            raise TokenError("unknown_issuer")
        kid = compact.header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenError("missing_kid")
        key = self._key_lookup(issuer, kid).find(kid)
        if key.algorithm not in issuer.algorithms or compact.header.get("alg") != key.algorithm:
            raise TokenError("bad_algorithm")
        if not key.verify(compact.signing_input, tokens.b64url_decode(compact.signature)):
            raise TokenError("bad_signature")
        claims = tokens.decode_segment(compact.payload)
        current = time.time() if now is None else now
        issued_at = tokens.check_lifetime(claims, current, self._leeway)
        if issued_at is not None and issued_at > current + self._leeway:
            raise TokenError("not_yet_valid")
        if issuer.token_use is not None and claims.get("token_use") not in issuer.token_use:
            raise TokenError("bad_token_use")
        _check_audience(claims, issuer)
        entity_id = claims.get(issuer.entity_claim)
        if entity_id is None:
            raise TokenError("missing_sub")
        if not is_valid_entity_id(entity_id):
            raise TokenError("invalid_sub")
        return Identity(entity_id, _granted_topics(claims, issuer))


def issuers_from_json(text: str) -> tuple[TrustedIssuer, ...]:
    """``parse_issuers`` of a JSON text (an empty text is no issuer)."""
    if not text.strip():
        return ()
    try:
        document = strict_json.loads(text)
    except strict_json.InvalidJson as error:
        raise ValueError(f"not JSON: {error}") from None
    return parse_issuers(document)
