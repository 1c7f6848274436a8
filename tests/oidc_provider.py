"""An identity provider for tests: signing keys (RSA, P-256), their JWKS, tokens signed
with any header, and a JWKS served over HTTP on 127.0.0.1 that a test can rotate, slow
down or count requests to."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tests.crafted import b64


def _uint(value: int, size: int | None = None) -> str:
    size = size or (value.bit_length() + 7) // 8
    return b64(value.to_bytes(size, "big"))


@cache
def _rsa_private_key(index: int, bits: int) -> rsa.RSAPrivateKey:
    # Cached per index: key generation is the slow part of these tests.
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@dataclass(frozen=True)
class SigningKey:
    """A private key with its ``kid``; ``jwk`` is its public half."""

    kid: str
    private_key: Any
    algorithm: str = "RS256"

    @classmethod
    def rsa(cls, kid: str, index: int = 0, bits: int = 2048) -> SigningKey:
        return cls(kid, _rsa_private_key(index, bits))

    @classmethod
    def p256(cls, kid: str) -> SigningKey:
        return cls(kid, ec.generate_private_key(ec.SECP256R1()), "ES256")

    @property
    def jwk(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        if self.algorithm == "RS256":
            return {
                "kty": "RSA",
                "kid": self.kid,
                "use": "sig",
                "alg": "RS256",
                "n": _uint(numbers.n),
                "e": _uint(numbers.e),
            }
        return {
            "kty": "EC",
            "kid": self.kid,
            "use": "sig",
            "alg": "ES256",
            "crv": "P-256",
            "x": _uint(numbers.x, 32),
            "y": _uint(numbers.y, 32),
        }

    def signature(self, signing_input: bytes) -> bytes:
        if self.algorithm == "RS256":
            return self.private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        r, s = decode_dss_signature(self.private_key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def sign(self, claims: Mapping[str, Any], **header: Any) -> str:
        """A compact JWS of ``claims``; ``header`` adds to (or, with None, removes from)
        ``{"alg": <this key's>, "typ": "JWT", "kid": <this key's>}``."""
        fields = {"alg": self.algorithm, "typ": "JWT", "kid": self.kid, **header}
        fields = {name: value for name, value in fields.items() if value is not None}
        signing_input = (
            f"{b64(json.dumps(fields).encode())}.{b64(json.dumps(dict(claims)).encode())}"
        )
        return f"{signing_input}.{b64(self.signature(signing_input.encode()))}"


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [key.jwk for key in keys]}


@dataclass
class JwksServer:
    """What the server answers (a test changes it at will) and what it was asked."""

    document: Any = field(default_factory=lambda: {"keys": []})
    status: int = 200
    delay: float = 0.0
    discovery: dict[str, Any] | None = None
    requests: list[str] = field(default_factory=list)
    url: str = ""

    @property
    def jwks_uri(self) -> str:
        return f"{self.url}/jwks.json"

    def requests_for(self, path: str) -> int:
        return sum(1 for requested in self.requests if requested == path)


@contextmanager
def serve_jwks(document: Any = None) -> Iterator[JwksServer]:
    """A JWKS at ``<url>/jwks.json`` and a discovery document at
    ``<url>/.well-known/openid-configuration`` (its issuer is ``url``)."""
    state = JwksServer(document if document is not None else {"keys": []})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            if state.delay:
                time.sleep(state.delay)
            if self.path == "/jwks.json" or self.path.endswith("/.well-known/jwks.json"):
                body = (
                    state.document
                    if isinstance(state.document, bytes)
                    else json.dumps(state.document).encode()
                )
            elif self.path == "/.well-known/openid-configuration":
                body = json.dumps(
                    state.discovery or {"issuer": state.url, "jwks_uri": state.jwks_uri}
                ).encode()
            else:
                self.send_error(404)
                return
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
