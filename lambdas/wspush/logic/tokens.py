"""Compact JWTs signed with HS256, implemented on the standard library.

Only HS256 is accepted: a token naming any other algorithm (``none`` included) is
refused before its signature is looked at, so an attacker cannot pick the algorithm.
Several secrets may be valid at once (rotation): a token verifies if any of them signed it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from wspush.models.identifiers import is_valid_entity_id

ALGORITHM = "HS256"
DEFAULT_LEEWAY_SECONDS = 30


class TokenError(ValueError):
    """The token is not acceptable. ``reason`` is a short, log-safe code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("malformed") from None


def _signature(signing_input: bytes, secret: bytes) -> bytes:
    return hmac.new(secret, signing_input, hashlib.sha256).digest()


def sign(claims: Mapping[str, Any], secret: bytes) -> str:
    """Return a compact HS256 JWT carrying ``claims``."""
    header = _b64encode(
        json.dumps({"alg": ALGORITHM, "typ": "JWT"}, separators=(",", ":")).encode()
    )
    body = _b64encode(json.dumps(dict(claims), separators=(",", ":")).encode())
    signing_input = f"{header}.{body}".encode("ascii")
    return f"{header}.{body}.{_b64encode(_signature(signing_input, secret))}"


def issue(entity_id: str, secret: bytes, ttl_seconds: int = 3600, now: float | None = None) -> str:
    """Return a token for ``entity_id`` valid for ``ttl_seconds``."""
    if not is_valid_entity_id(entity_id):
        raise ValueError(f"invalid entity id: {entity_id!r}")
    issued_at = int(time.time() if now is None else now)
    return sign({"sub": entity_id, "iat": issued_at, "exp": issued_at + ttl_seconds}, secret)


def _json_object(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(segment))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise TokenError("malformed") from None
    if not isinstance(value, dict):
        raise TokenError("malformed")
    return value


def _numeric_claim(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenError("malformed")
    return float(value)


def verify(
    token: str,
    secrets: Sequence[bytes],
    now: float | None = None,
    leeway: int = DEFAULT_LEEWAY_SECONDS,
) -> dict[str, Any]:
    """Return the claims of a valid token, or raise ``TokenError``.

    A valid token has an HS256 header, a signature by one of ``secrets``, an ``exp`` in the
    future (with ``leeway``), no ``nbf`` in the future, and a ``sub`` that is a valid entity id.
    """
    if not token:
        raise TokenError("missing")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise TokenError("malformed")
    header = _json_object(parts[0])
    if header.get("alg") != ALGORITHM:
        raise TokenError("bad_algorithm")
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii", errors="replace")
    presented = _b64decode(parts[2])
    if not any(hmac.compare_digest(presented, _signature(signing_input, s)) for s in secrets):
        raise TokenError("bad_signature")
    claims = _json_object(parts[1])
    current = time.time() if now is None else now
    expires_at = _numeric_claim(claims, "exp")
    if expires_at is None:
        raise TokenError("missing_exp")
    if current > expires_at + leeway:
        raise TokenError("expired")
    not_before = _numeric_claim(claims, "nbf")
    if not_before is not None and current + leeway < not_before:
        raise TokenError("not_yet_valid")
    if "sub" not in claims:
        raise TokenError("missing_sub")
    if not is_valid_entity_id(claims["sub"]):
        raise TokenError("invalid_sub")
    return claims


def parse_secrets(value: str) -> list[bytes]:
    """Split a stored secret value into keys: one per line, the first signs new tokens."""
    keys = [line.strip().encode() for line in value.splitlines() if line.strip()]
    if not keys:
        raise ValueError("the token secret is empty")
    return keys
