"""Mint the tokens a page presents on ``$connect``, with the code that verifies them.

The stack keeps its signing secret in an SSM SecureString (output
``token_secret_parameter_name``), one key per line: the first signs, every line verifies
(rotation). ``SsmParameter`` reads it from there, ``SecretsManagerSecret`` from a secret
you keep in Secrets Manager instead; both cache the value for ``max_age`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from botocore.session import get_session

from wspush.logic.tokens import TokenError, decode_segment, issue, parse_secrets, sign, verify


class _CachedSecret:
    """A secret value read through ``fetch``, kept for ``max_age`` seconds."""

    def __init__(self, fetch: Callable[[], str], max_age: float) -> None:
        self._fetch = fetch
        self._max_age = max_age
        self._lock = threading.Lock()
        self._value: bytes | None = None
        self._read_at = 0.0

    def signing_key(self) -> bytes:
        """The key that signs new tokens: the first line of the stored value."""
        with self._lock:
            if self._value is None or time.monotonic() - self._read_at >= self._max_age:
                self._value = parse_secrets(self._fetch())[0]
                self._read_at = time.monotonic()
            return self._value


class SsmParameter(_CachedSecret):
    """The secret in an SSM SecureString, e.g. ``/wspush/prod/token-secret``; ``client``
    is a botocore (or boto3) SSM client, by default one for ``region``."""

    def __init__(
        self, name: str, *, region: str | None = None, client: Any = None, max_age: float = 300
    ) -> None:
        ssm = client or get_session().create_client("ssm", region_name=region)

        def fetch() -> str:
            value: str = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
            return value

        super().__init__(fetch, max_age)


class SecretsManagerSecret(_CachedSecret):
    """The secret as the ``SecretString`` of a Secrets Manager secret (name or ARN)."""

    def __init__(
        self, secret_id: str, *, region: str | None = None, client: Any = None, max_age: float = 300
    ) -> None:
        secrets = client or get_session().create_client("secretsmanager", region_name=region)

        def fetch() -> str:
            value: str = secrets.get_secret_value(SecretId=secret_id)["SecretString"]
            return value

        super().__init__(fetch, max_age)


Secret = str | bytes | SsmParameter | SecretsManagerSecret


def signing_key(secret: Secret) -> bytes:
    """The key that signs: the first line of a value, or of a stored secret."""
    if isinstance(secret, SsmParameter | SecretsManagerSecret):
        return secret.signing_key()
    text = secret.decode() if isinstance(secret, bytes) else secret
    return parse_secrets(text)[0]


def mint_token(
    entity: str,
    *,
    secret: Secret,
    topics: Sequence[str] | None = None,
    ttl: int = 3600,
    audience: str | None = None,
    issuer: str | None = None,
    publish: Sequence[str] | None = None,
    info: dict[str, Any] | None = None,
) -> str:
    """A token for ``entity`` (its ``sub``), valid for ``ttl`` seconds, that may read
    ``topics`` (patterns such as ``user:alice/*``; None: only the deployment's public
    topics). ``audience``/``issuer`` when the stack sets ``token_audience``/``token_issuer``.
    ``publish``: the patterns it may publish on from the WebSocket (None: only the
    deployment's public publish patterns); ``info``: a small JSON object the members of a
    presence topic see, such as ``{"name": "Alice"}``.

    Raises ``ValueError`` for anything ``$connect`` would refuse (an invalid entity or
    pattern, a claim too large, a key shorter than 32 bytes).
    """
    if ttl <= 0:
        raise ValueError(f"ttl must be a positive number of seconds, got {ttl}")
    key = signing_key(secret)
    token = issue(
        entity,
        key,
        ttl_seconds=ttl,
        topics=topics,
        audience=audience,
        issuer=issuer,
        publish=publish,
    )
    if info is None:
        return token
    return with_claims(token, key, info=info, audience=audience, issuer=issuer)


def with_claims(
    token: str,
    key: bytes,
    *,
    info: dict[str, Any] | None = None,
    audience: str | None = None,
    issuer: str | None = None,
) -> str:
    """``token`` signed again with an ``info`` claim added; checked by the server's own
    ``verify``, so a claim ``$connect`` would refuse is a ``ValueError``."""
    claims = decode_segment(token.split(".")[1])
    if info is not None:
        claims["info"] = info
    extended = sign(claims, key)
    try:
        verify(extended, [key], audience=audience, issuer=issuer)
    except TokenError as error:
        raise ValueError(f"the token would be refused: {error.reason}") from None
    return extended
