"""Correctly signed tokens around arbitrary payload bytes, for tests of crafted input: a
payload must be refused for its content, not only for lacking a signature."""

from __future__ import annotations

import base64
import hashlib
import hmac


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


HS256_HEADER = b'{"alg":"HS256","typ":"JWT"}'


def signed_token(payload: bytes, secret: bytes, header: bytes = HS256_HEADER) -> str:
    signing_input = b64(header) + "." + b64(payload)
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


BASE64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def stray_bits(segment: str) -> str:
    """The same bytes as base64url ``segment``, spelt with a nonzero unused bit in its last
    character (which Python's decoder ignores)."""
    assert len(segment) % 4 in (2, 3)
    last = BASE64URL_ALPHABET.index(segment[-1])
    return segment[:-1] + BASE64URL_ALPHABET[last + 1]
