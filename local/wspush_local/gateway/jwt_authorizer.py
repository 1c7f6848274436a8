"""An HTTP API JWT authorizer, emulated against an issuer the local stack owns.

On AWS, a JWT authorizer reads its issuer's OIDC discovery document and signing keys
(``jwks_uri``); neither is reachable offline. The local stack stands in for the issuer with
an RSA key pair of its own (``LocalIssuer``), created once in its work directory with mode
0600, so any process there (``wspush token --publish``) mints tokens the endpoint accepts.

``JwtAuthorizer`` validates as API Gateway documents
(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html):
the token from the identity source (alone or after ``Bearer``), decoded; its ``kid`` names
the signing key; an RS256 signature by that key (anything else, ``none`` and HS256
included, is refused before any key is used); ``iss`` equal to the configured issuer;
``aud`` (a string or a list) or, only without ``aud``, ``client_id`` naming a configured
audience; ``exp`` after now; ``nbf`` and ``iat``, when present, before now. A failure is a
401; a token without any of the route's scopes (``scope`` or ``scp``) is a 403.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from wspush.logic.tokens import (
    TokenError,
    b64url_decode,
    b64url_encode,
    decode_segment,
    numeric_claim,
    split_compact,
)

ALGORITHM = "RS256"
KEY_FILE = "publish-jwt-key.pem"
HEADER_SOURCE = "$request.header."


@dataclass(frozen=True)
class JwtConfiguration:
    """The deployed authorizer's settings and the route's authorization scopes."""

    issuer: str
    audience: tuple[str, ...]
    scopes: tuple[str, ...] = ()
    header: str = "Authorization"

    def as_dict(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "audience": list(self.audience),
            "scopes": list(self.scopes),
            "header": self.header,
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> JwtConfiguration:
        return cls(
            value["issuer"], tuple(value["audience"]), tuple(value["scopes"]), value["header"]
        )


def read_jwt_configuration(
    apigateway: Any, api_id: str, authorizer_id: str, scopes: Sequence[str]
) -> JwtConfiguration:
    """The route's JWT authorizer as deployed, by id (the emulator answers GetAuthorizer,
    not GetAuthorizers). Raises ``ValueError`` for a configuration it cannot emulate."""
    authorizer = apigateway.get_authorizer(ApiId=api_id, AuthorizerId=authorizer_id)
    if authorizer.get("AuthorizerType") != "JWT":
        raise ValueError(f"authorizer {authorizer_id} is not a JWT authorizer")
    settings = authorizer.get("JwtConfiguration") or {}
    sources = authorizer.get("IdentitySource") or []
    if len(sources) != 1 or not sources[0].startswith(HEADER_SOURCE):
        raise ValueError(f"authorizer {authorizer_id}: only one request header is emulated")
    if not settings.get("Issuer") or not settings.get("Audience"):
        raise ValueError(f"authorizer {authorizer_id} needs an issuer and an audience")
    return JwtConfiguration(
        issuer=settings["Issuer"],
        audience=tuple(settings["Audience"]),
        scopes=tuple(scopes),
        header=sources[0].removeprefix(HEADER_SOURCE),
    )


def _thumbprint(key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint: the key's id, stable for as long as the key is."""
    numbers = key.public_numbers()

    def member(value: int) -> str:
        return b64url_encode(value.to_bytes((value.bit_length() + 7) // 8, "big"))

    jwk = {"e": member(numbers.e), "kty": "RSA", "n": member(numbers.n)}
    canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()
    return b64url_encode(hashlib.sha256(canonical).digest())


class LocalIssuer:
    """The local stack's token issuer: an RSA 2048 key pair that signs RS256 tokens."""

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self._private_key = private_key
        self.public_key = private_key.public_key()
        self.kid = _thumbprint(self.public_key)

    @classmethod
    def load(cls, work_dir: Path) -> LocalIssuer:
        """The key kept in ``work_dir``; ``FileNotFoundError`` if there is none yet."""
        path = work_dir / KEY_FILE
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"no local issuer key ({path} not found): start the stack with a JWT "
                "authorizer first"
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} does not hold an RSA private key")
        return cls(key)

    @classmethod
    def load_or_create(cls, work_dir: Path) -> LocalIssuer:
        """The key kept in ``work_dir``, created (mode 0600) on first use. Creation is
        atomic: a process that loses the race loads the winner's key."""
        path = work_dir / KEY_FILE
        if path.exists():
            return cls.load(work_dir)
        work_dir.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # mkstemp creates the file with mode 0600; link() publishes it only if absent.
        descriptor, temporary = tempfile.mkstemp(dir=work_dir, prefix=".jwt-key-")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(pem)
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
        return cls.load(work_dir)

    def sign(self, claims: Mapping[str, Any]) -> str:
        """A compact RS256 JWT carrying ``claims``, its header naming this key."""
        header = {"alg": ALGORITHM, "typ": "JWT", "kid": self.kid}
        signing_input = ".".join(
            b64url_encode(json.dumps(dict(part), separators=(",", ":")).encode())
            for part in (header, claims)
        )
        signature = self._private_key.sign(
            signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
        return f"{signing_input}.{b64url_encode(signature)}"

    def publish_token(
        self,
        configuration: JwtConfiguration,
        subject: str,
        scopes: Sequence[str],
        ttl_seconds: int,
        now: float | None = None,
        issuer: str | None = None,
        audience: str | None = None,
    ) -> str:
        """A token for the publish route: the authorizer's issuer and first audience
        (unless overridden), ``sub``, ``iat``/``exp`` and, with ``scopes``, ``scope``."""
        issued_at = int(time.time() if now is None else now)
        claims: dict[str, Any] = {
            "iss": issuer or configuration.issuer,
            "aud": audience or configuration.audience[0],
            "sub": subject,
            "iat": issued_at,
            "exp": issued_at + ttl_seconds,
        }
        if scopes:
            claims["scope"] = " ".join(scopes)
        return self.sign(claims)


class JwtRejected(Exception):
    """The request is refused: ``status`` 401 or 403, with API Gateway's body, and the
    ``www-authenticate`` challenge (never the token)."""

    def __init__(self, status: int, challenge: str) -> None:
        super().__init__(challenge)
        self.status = status
        self.message = "Unauthorized" if status == 401 else "Forbidden"
        self.challenge = challenge


def claim_text(value: Any) -> str:
    """A claim as the payload 2.0 event carries it: every value a string; lists in
    brackets, space-separated; objects as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + " ".join(claim_text(item) for item in value) + "]"
    return json.dumps(value, separators=(",", ":"))


def _scopes_of(value: Any) -> list[str]:
    """``scope`` is space-separated (RFC 8693 4.2); some issuers send ``scp`` as a list."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


class JwtAuthorizer:
    def __init__(
        self,
        configuration: JwtConfiguration,
        key: rsa.RSAPublicKey,
        kid: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.configuration = configuration
        self._key = key
        self._kid = kid
        self._clock = clock

    def _refuse(self, description: str | None, status: int = 401) -> JwtRejected:
        scope = " ".join(self.configuration.scopes)
        challenge = f'Bearer scope="{scope}"'
        if description is not None:
            error = "invalid_token" if status == 401 else "insufficient_scope"
            challenge += f' error="{error}" error_description="{description}"'
        return JwtRejected(status, challenge)

    def authorize(self, headers: Mapping[str, str]) -> dict[str, Any]:
        """The ``requestContext.authorizer`` of an accepted request, or ``JwtRejected``."""
        value = (headers.get(self.configuration.header) or "").strip()
        scheme, _, rest = value.partition(" ")
        token = rest.strip() if scheme.lower() == "bearer" else value
        if not token:
            raise self._refuse(None)
        try:
            claims = self._verified_claims(token)
        except TokenError:
            raise self._refuse("the token is malformed") from None
        scopes: list[str] | None = None
        if self.configuration.scopes:
            scopes = _scopes_of(claims.get("scope")) + _scopes_of(claims.get("scp"))
            if not set(scopes) & set(self.configuration.scopes):
                raise self._refuse("the token does not have a required scope", status=403)
        return {
            "jwt": {
                "claims": {
                    name: claim_text(value) for name, value in claims.items() if value is not None
                },
                "scopes": scopes,
            }
        }

    def _verified_claims(self, token: str) -> dict[str, Any]:
        """The claims of a token that passes every check but scopes; ``TokenError`` for
        one that cannot be decoded, ``JwtRejected`` for one that fails a check."""
        compact = split_compact(token)
        if compact.header.get("alg") != ALGORITHM:
            raise self._refuse(f"the token's signing method is not {ALGORITHM}")
        if compact.header.get("kid") != self._kid:
            raise self._refuse("the token's kid does not match a signing key")
        try:
            self._key.verify(
                b64url_decode(compact.signature),
                compact.signing_input,
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            raise self._refuse("the token's signature is invalid") from None
        claims = decode_segment(compact.payload)
        if claims.get("iss") != self.configuration.issuer:
            raise self._refuse("the token does not have a valid issuer")
        if not self._audience_matches(claims):
            raise self._refuse("the token does not have a valid audience")
        now = self._clock()
        expires_at = numeric_claim(claims, "exp")
        if expires_at is None:
            raise self._refuse("the token has no exp claim")
        if now >= expires_at:
            raise self._refuse("the token has expired")
        not_before = numeric_claim(claims, "nbf")
        if not_before is not None and now < not_before:
            raise self._refuse("the token is not valid yet")
        issued_at = numeric_claim(claims, "iat")
        if issued_at is not None and now < issued_at:
            raise self._refuse("the token was issued in the future")
        return claims

    def _audience_matches(self, claims: Mapping[str, Any]) -> bool:
        """``aud`` when present (a string or a list), else ``client_id``."""
        named = claims["aud"] if "aud" in claims else claims.get("client_id")
        values = named if isinstance(named, list) else [named]
        return any(isinstance(v, str) and v in self.configuration.audience for v in values)
