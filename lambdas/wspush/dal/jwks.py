"""Trusted issuers' signing keys (JWKS), fetched over HTTPS and kept per container.

- A key set is fetched on first use and kept for ``ttl`` seconds.
- A ``kid`` the kept set does not hold (the issuer rotated its keys) fetches the set again,
  at most once per ``refetch_interval`` per issuer, whatever the ``kid``: a flood of
  tokens with random kids costs the issuer one request per interval, not one per token.
- A fetch that fails keeps the previous set in use (up to ``max_stale`` past its ``ttl``)
  and is not retried before ``refetch_interval``; with no set to fall back on, the issuer's
  tokens are refused (``KeysUnavailable``), never accepted unverified.
- Every fetch of one refresh (discovery document, then key set) shares one deadline of
  ``FETCH_BUDGET_SECONDS``, which bounds each wait on the network, well inside the
  authorizer's timeout; a document larger than ``MAX_DOCUMENT_BYTES``, a redirect, or any
  status but 200 fails.

Where the keys are: the issuer's ``jwks_uri`` when configured; for a Cognito user pool,
its documented ``<issuer>/.well-known/jwks.json``, or, when the AWS SDK's endpoint variable
(``AWS_ENDPOINT_URL_COGNITO_IDP``, else ``AWS_ENDPOINT_URL``) points elsewhere (the local
stack's emulator), ``<endpoint>/<pool-id>/.well-known/jwks.json``; else the ``jwks_uri`` of
the issuer's discovery document (``<issuer>/.well-known/openid-configuration``), whose
``issuer`` must be the configured one (OpenID Connect Discovery 4.3).
"""

from __future__ import annotations

import http.client
import os
import re
import ssl
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from wspush.logic import strict_json
from wspush.logic.jwks import KeySet, parse_key_set
from wspush.logic.oidc import TrustedIssuer
from wspush.models.errors import KeysUnavailable

FETCH_BUDGET_SECONDS = 2.0
MAX_DOCUMENT_BYTES = 64 * 1024
DEFAULT_TTL_SECONDS = 60 * 60
DEFAULT_REFETCH_INTERVAL_SECONDS = 60
DEFAULT_MAX_STALE_SECONDS = 6 * 60 * 60
# Plain HTTP only to this machine (a local issuer or the emulator); anything else is HTTPS.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_COGNITO_ISSUER = re.compile(
    r"https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com/(?P<pool>[a-z0-9-]+_[A-Za-z0-9]+)"
)
_READ_CHUNK = 16 * 1024

# GET ``url`` as JSON before ``deadline`` (time.monotonic()); KeysUnavailable otherwise.
FetchJson = Callable[[str, float], Any]


def _remaining(deadline: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise KeysUnavailable("timed out")
    return remaining


def check_fetchable(url: str) -> urllib.parse.SplitResult:
    """``url`` split, if it is HTTPS, or plain HTTP to a loopback host; else
    ``KeysUnavailable`` (no ``file:``, no plain HTTP across a network)."""
    parts = urllib.parse.urlsplit(url)
    loopback = parts.hostname in LOOPBACK_HOSTS
    if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
        raise KeysUnavailable(f"{url!r} is neither HTTPS nor HTTP to this machine")
    return parts


def fetch_json(url: str, deadline: float) -> Any:
    """The JSON document at ``url``: status 200 (redirects are not followed), at most
    ``MAX_DOCUMENT_BYTES``, strict JSON, all before ``deadline``."""
    parts = check_fetchable(url)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            parts.hostname or "",
            parts.port,
            timeout=_remaining(deadline),
            context=ssl.create_default_context(),
        )
    else:
        connection = http.client.HTTPConnection(
            parts.hostname or "", parts.port, timeout=_remaining(deadline)
        )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    body = bytearray()
    try:
        connection.request("GET", target, headers={"Accept": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            raise KeysUnavailable(f"{url}: HTTP {response.status}")
        while len(body) <= MAX_DOCUMENT_BYTES:
            if connection.sock is not None:
                connection.sock.settimeout(_remaining(deadline))
            chunk = response.read1(_READ_CHUNK)
            if not chunk:
                break
            body += chunk
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise KeysUnavailable(f"{url}: {type(error).__name__}") from None
    finally:
        connection.close()
    if len(body) > MAX_DOCUMENT_BYTES:
        raise KeysUnavailable(f"{url}: larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        return strict_json.loads(bytes(body))
    except strict_json.InvalidJson as error:
        raise KeysUnavailable(f"{url}: not JSON ({error})") from None


def sdk_endpoint(environment: Mapping[str, str]) -> str | None:
    """The Cognito endpoint the AWS SDKs would use instead of AWS's, if one is configured
    (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html)."""
    if environment.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    endpoint = environment.get("AWS_ENDPOINT_URL_COGNITO_IDP") or environment.get(
        "AWS_ENDPOINT_URL"
    )
    return endpoint.rstrip("/") if endpoint else None


@dataclass
class _Kept:
    keys: KeySet | None = None
    fetched_at: float = 0.0  # of ``keys``
    attempted_at: float = 0.0  # the last fetch, successful or not


class JwksCache:
    """The key sets of the trusted issuers, for ``OidcVerifier``'s ``key_lookup``."""

    def __init__(
        self,
        fetch: FetchJson = fetch_json,
        ttl: float = DEFAULT_TTL_SECONDS,
        refetch_interval: float = DEFAULT_REFETCH_INTERVAL_SECONDS,
        max_stale: float = DEFAULT_MAX_STALE_SECONDS,
        environment: Mapping[str, str] = os.environ,
        clock: Callable[[], float] = time.monotonic,
        on_fetch_failure: Callable[[str, KeysUnavailable], None] | None = None,
        fetch_budget: float = FETCH_BUDGET_SECONDS,
    ) -> None:
        self._fetch = fetch
        self._fetch_budget = fetch_budget
        self._ttl = ttl
        self._refetch_interval = refetch_interval
        self._max_stale = max_stale
        self._environment = environment
        self._clock = clock
        self._on_fetch_failure = on_fetch_failure
        self._kept: dict[str, _Kept] = {}
        self._discovered: dict[str, str] = {}

    def key_set(self, issuer: TrustedIssuer, kid: str) -> KeySet:
        """The issuer's keys, fetched again if they are old or lack ``kid`` (and the last
        fetch is at least ``refetch_interval`` ago); ``KeysUnavailable`` with none."""
        now = self._clock()
        kept = self._kept.setdefault(issuer.issuer, _Kept())
        fresh = kept.keys is not None and now - kept.fetched_at < self._ttl
        if fresh and kept.keys is not None and kept.keys.knows(kid):
            return kept.keys
        if kept.attempted_at == 0.0 or now - kept.attempted_at >= self._refetch_interval:
            kept.attempted_at = now
            try:
                kept.keys = self._fetch_key_set(issuer)
                kept.fetched_at = now
                return kept.keys
            except KeysUnavailable as error:
                self._discovered.pop(issuer.issuer, None)
                if self._on_fetch_failure is not None:
                    self._on_fetch_failure(issuer.issuer, error)
        if kept.keys is not None and now - kept.fetched_at < self._ttl + self._max_stale:
            return kept.keys
        raise KeysUnavailable(f"no signing keys for issuer {issuer.issuer}")

    def _fetch_key_set(self, issuer: TrustedIssuer) -> KeySet:
        deadline = time.monotonic() + self._fetch_budget
        try:
            return parse_key_set(self._fetch(self.jwks_url(issuer, deadline), deadline))
        except ValueError as error:
            raise KeysUnavailable(f"issuer {issuer.issuer}: {error}") from None

    def jwks_url(self, issuer: TrustedIssuer, deadline: float) -> str:
        if issuer.jwks_uri is not None:
            return issuer.jwks_uri
        cognito = _COGNITO_ISSUER.fullmatch(issuer.issuer)
        if cognito is not None:
            base = sdk_endpoint(self._environment)
            if base is None:
                return f"{issuer.issuer}/.well-known/jwks.json"
            return f"{base}/{cognito['pool']}/.well-known/jwks.json"
        if issuer.issuer not in self._discovered:
            self._discovered[issuer.issuer] = self._discover(issuer, deadline)
        return self._discovered[issuer.issuer]

    def _discover(self, issuer: TrustedIssuer, deadline: float) -> str:
        discovery_url = f"{issuer.issuer.rstrip('/')}/.well-known/openid-configuration"
        document = self._fetch(discovery_url, deadline)
        if not isinstance(document, dict) or document.get("issuer") != issuer.issuer:
            raise KeysUnavailable(f"issuer {issuer.issuer}: discovery names another issuer")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise KeysUnavailable(f"issuer {issuer.issuer}: discovery has no jwks_uri")
        check_fetchable(jwks_uri)
        return jwks_uri
