"""Compact JWTs signed with HS256, implemented on the standard library.

Only HS256 is accepted: a token naming any other algorithm (``none`` included) is
refused before its signature is looked at, so an attacker cannot pick the algorithm.
Several secrets may be valid at once (rotation): a token verifies if any of them signed it.

Whatever the input, ``verify`` returns claims or raises ``TokenError``: a token is refused
by size before it is decoded, and JSON that Python would read into something no claim can
be (``NaN``, ``Infinity``, ``1e400``, integers of thousands of digits, nesting deeper than
the recursion limit) is malformed, not an exception for the caller to meet.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wspush.logic import strict_json
from wspush.models.identifiers import is_valid_entity_id, is_valid_topic_pattern

ALGORITHM = "HS256"
DEFAULT_LEEWAY_SECONDS = 30
# Far above any real token (a few hundred bytes); refused before any decoding.
MAX_TOKEN_CHARS = 4096
# RFC 7518 3.2: an HS256 key at least as long as the hash output (256 bits).
MIN_SECRET_BYTES = 32
# The topics claim travels to the routes as one authorizer context string; API Gateway caps
# the whole authorizer result at 8 KB, so the claim gets a quarter of it.
MAX_TOPICS_CLAIM_CHARS = 2048
# The info claim (a display name and the like) is shown to the other members of presence
# topics and stored with each row of the connection: a JSON object of at most this many
# bytes, compact UTF-8.
MAX_INFO_CLAIM_BYTES = 512
# Numeric claims are seconds since the epoch: 20 digits is far beyond any date.
_MAX_INT_DIGITS = 20
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


class TokenError(ValueError):
    """The token is not acceptable. ``reason`` is a short, log-safe code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    """The bytes of a canonical base64url segment (RFC 7515 2): the URL-safe alphabet only,
    no padding, no stray bits in its last character; ``TokenError("malformed")`` otherwise.

    Python's decoder alone accepts ``=`` padding, drops characters outside the alphabet
    and reads standard base64's ``+`` and ``/``, so one signature would have many
    spellings; here each byte string has exactly one."""
    if not _BASE64URL.fullmatch(segment):
        raise TokenError("malformed")
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("malformed") from None
    if b64url_encode(data) != segment:  # stray bits: another spelling of the same bytes
        raise TokenError("malformed")
    return data


def _signature(signing_input: bytes, secret: bytes) -> bytes:
    return hmac.new(secret, signing_input, hashlib.sha256).digest()


def sign(claims: Mapping[str, Any], secret: bytes) -> str:
    """Return a compact HS256 JWT carrying ``claims``."""
    header = b64url_encode(
        json.dumps({"alg": ALGORITHM, "typ": "JWT"}, separators=(",", ":")).encode()
    )
    body = b64url_encode(json.dumps(dict(claims), separators=(",", ":")).encode())
    signing_input = f"{header}.{body}".encode("ascii")
    return f"{header}.{body}.{b64url_encode(_signature(signing_input, secret))}"


def issue(
    entity_id: str,
    secret: bytes,
    ttl_seconds: int = 3600,
    now: float | None = None,
    topics: Sequence[str] | None = None,
    audience: str | None = None,
    issuer: str | None = None,
    publish: Sequence[str] | None = None,
    info: dict[str, Any] | None = None,
) -> str:
    """Return a token for ``entity_id`` valid for ``ttl_seconds``, granting ``topics``
    (patterns to read) and ``publish`` (patterns to publish on) when given, with ``info``
    (shown to presence topics) when given. Raises
    ``ValueError`` for a claim ``verify`` would refuse."""
    if not is_valid_entity_id(entity_id):
        raise ValueError(f"invalid entity id: {entity_id!r}")
    issued_at = int(time.time() if now is None else now)
    claims: dict[str, Any] = {"sub": entity_id, "iat": issued_at, "exp": issued_at + ttl_seconds}
    if topics is not None:
        try:
            claims["topics"] = topic_patterns({"topics": list(topics)})
        except TokenError as error:
            raise ValueError(f"topics: {error.reason} (see MAX_TOPICS_CLAIM_CHARS)") from None
    if publish is not None:
        try:
            claims["publish"] = publish_patterns({"publish": list(publish)})
        except TokenError as error:
            raise ValueError(f"publish: {error.reason} (see MAX_TOPICS_CLAIM_CHARS)") from None
    if info is not None:
        try:
            info_claim({"info": info})
        except TokenError as error:
            raise ValueError(f"info: {error.reason} (see MAX_INFO_CLAIM_BYTES)") from None
        claims["info"] = info
    if audience is not None:
        claims["aud"] = audience
    if issuer is not None:
        claims["iss"] = issuer
    return sign(claims, secret)


def decode_segment(segment: str) -> dict[str, Any]:
    """A JWT header or payload segment: base64url of a strict JSON object, or
    ``TokenError("malformed")``."""
    try:
        value = strict_json.loads(b64url_decode(segment), max_int_digits=_MAX_INT_DIGITS)
    except strict_json.InvalidJson:
        raise TokenError("malformed") from None
    if not isinstance(value, dict):
        raise TokenError("malformed")
    return value


@dataclass(frozen=True)
class CompactToken:
    """A compact JWS split apart: its decoded header, the bytes its signature covers, and
    the payload and signature segments (still encoded)."""

    header: dict[str, Any]
    signing_input: bytes
    payload: str
    signature: str


def split_compact(token: str) -> CompactToken:
    """Split a token of at most ``MAX_TOKEN_CHARS`` into its three non-empty segments, each
    canonical base64url (see ``b64url_decode``), and decode its header; ``TokenError``
    ("too_large", "malformed") otherwise."""
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenError("too_large")
    parts = token.split(".")
    if len(parts) != 3 or not all(_BASE64URL.fullmatch(part) for part in parts):
        raise TokenError("malformed")
    # ASCII, so the signed bytes are exactly the token's; each segment's decoding (the
    # header here, the payload and signature by the caller) checks it is canonical.
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    return CompactToken(decode_segment(parts[0]), signing_input, parts[1], parts[2])


def numeric_claim(claims: Mapping[str, Any], name: str) -> float | None:
    """A NumericDate claim (seconds since the epoch), ``None`` when absent, or
    ``TokenError("malformed")`` when it is not a number."""
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenError("malformed")
    return float(value)


def check_lifetime(claims: Mapping[str, Any], current: float, leeway: int) -> float | None:
    """Refuse a token without a finite ``exp`` ("missing_exp"), past it ("expired") or
    before its ``nbf`` ("not_yet_valid"), each with ``leeway``; return its ``iat``."""
    expires_at = numeric_claim(claims, "exp")
    if expires_at is None:
        raise TokenError("missing_exp")
    if current > expires_at + leeway:
        raise TokenError("expired")
    not_before = numeric_claim(claims, "nbf")
    if not_before is not None and current + leeway < not_before:
        raise TokenError("not_yet_valid")
    return numeric_claim(claims, "iat")


def _pattern_claim(claims: Mapping[str, Any], name: str) -> list[str] | None:
    """A claim holding a list of topic patterns, checked: its JSON form must fit the
    authorizer context (``<name>_too_large``); ``None`` when the token has none."""
    if name not in claims:
        return None
    patterns = claims[name]
    if not isinstance(patterns, list) or not all(is_valid_topic_pattern(p) for p in patterns):
        raise TokenError(f"invalid_{name}")
    if len(json.dumps(patterns, separators=(",", ":"))) > MAX_TOPICS_CLAIM_CHARS:
        raise TokenError(f"{name}_too_large")
    return patterns


def topic_patterns(claims: Mapping[str, Any]) -> list[str] | None:
    """The ``topics`` claim (what the connection may read), checked."""
    return _pattern_claim(claims, "topics")


def publish_patterns(claims: Mapping[str, Any]) -> list[str] | None:
    """The ``publish`` claim (what the connection may publish on), checked the same way:
    a grant of its own, never implied by ``topics``."""
    return _pattern_claim(claims, "publish")


def info_claim(claims: Mapping[str, Any]) -> str | None:
    """The ``info`` claim as compact JSON, checked: a JSON object (``invalid_info``) of at
    most ``MAX_INFO_CLAIM_BYTES`` (``info_too_large``); None when the token has none."""
    if "info" not in claims:
        return None
    info = claims["info"]
    if not isinstance(info, dict):
        raise TokenError("invalid_info")
    encoded = json.dumps(info, separators=(",", ":"), ensure_ascii=False)
    if len(encoded.encode("utf-8", errors="surrogatepass")) > MAX_INFO_CLAIM_BYTES:
        raise TokenError("info_too_large")
    return encoded


def _check_audience(claims: Mapping[str, Any], audience: str | None) -> None:
    """RFC 7519 4.1.3: a token naming an audience must name ours; without a configured
    audience, a token that names one is meant for someone else."""
    if "aud" not in claims:
        if audience is not None:
            raise TokenError("bad_audience")
        return
    value = claims["aud"]
    named = [value] if isinstance(value, str) else value
    if not isinstance(named, list) or audience is None or audience not in named:
        raise TokenError("bad_audience")


def verify(
    token: str,
    secrets: Sequence[bytes],
    now: float | None = None,
    leeway: int = DEFAULT_LEEWAY_SECONDS,
    audience: str | None = None,
    issuer: str | None = None,
) -> dict[str, Any]:
    """Return the claims of a valid token, or raise ``TokenError``.

    A valid token is at most ``MAX_TOKEN_CHARS`` long, has an HS256 header, a signature by
    one of ``secrets``, a finite ``exp`` in the future (with ``leeway``), no ``nbf`` in the
    future, a ``sub`` that is a valid entity id, ``aud`` and ``iss`` as configured, and, if
    it has them, valid ``topics`` and ``publish`` claims.
    """
    if not token:
        raise TokenError("missing")
    compact = split_compact(token)
    if compact.header.get("alg") != ALGORITHM:
        raise TokenError("bad_algorithm")
    if "crit" in compact.header:  # RFC 7515 4.1.11: extensions we do not implement
        raise TokenError("malformed")
    presented = b64url_decode(compact.signature)
    expected = [_signature(compact.signing_input, s) for s in secrets]
    if not any(hmac.compare_digest(presented, signature) for signature in expected):
        raise TokenError("bad_signature")
    claims = decode_segment(compact.payload)
    check_lifetime(claims, time.time() if now is None else now, leeway)
    if "sub" not in claims:
        raise TokenError("missing_sub")
    if not is_valid_entity_id(claims["sub"]):
        raise TokenError("invalid_sub")
    _check_audience(claims, audience)
    if issuer is not None and claims.get("iss") != issuer:
        raise TokenError("bad_issuer")
    topic_patterns(claims)
    publish_patterns(claims)
    info_claim(claims)
    return claims


def parse_secrets(value: str) -> list[bytes]:
    """Split a stored secret value into keys: one per line, the first signs new tokens.
    Each must be at least ``MIN_SECRET_BYTES`` long (the message never shows a key)."""
    keys = [line.strip().encode() for line in value.splitlines() if line.strip()]
    if not keys:
        raise ValueError("the token secret is empty")
    for number, key in enumerate(keys, start=1):
        if len(key) < MIN_SECRET_BYTES:
            raise ValueError(
                f"token secret line {number} is {len(key)} bytes; at least {MIN_SECRET_BYTES}"
            )
    return keys
