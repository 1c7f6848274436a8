"""Verifying AWS Signature Version 4 on incoming requests, as API Gateway does for routes
with IAM authorization.

The signature is recomputed with botocore's own SigV4 code over exactly the headers the
client signed, so a request signed by boto3, botocore or ``curl --aws-sigv4`` verifies
byte for byte. Only the keys given to the verifier are known; anything else is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
# API Gateway accepts a signature dated within five minutes of its clock.
MAX_SKEW_SECONDS = 5 * 60
_FIELD = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]+)")
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


class SignatureRejected(Exception):
    """A request API Gateway would refuse: 403 with an error type and a message."""

    def __init__(self, error_type: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status


def _mismatch() -> SignatureRejected:
    return SignatureRejected(
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method.",
    )


def _utf8(value: str) -> bool:
    """Whether a header value is text (aiohttp surrogate-escapes bytes that are not UTF-8)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class Caller:
    """Who signed: the access key, and the account and ARN it belongs to."""

    access_key: str
    account_id: str
    user_arn: str


class _SignedHeadersOnly(SigV4Auth):  # type: ignore[misc]
    """SigV4Auth over exactly the client's SignedHeaders (botocore would pick its own)."""

    def __init__(self, credentials: Credentials, service: str, region: str, signed: list[str]):
        super().__init__(credentials, service, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        headers = HTTPHeaders()
        for name in self._signed:
            for value in request.headers.get_all(name) or []:
                headers[name] = value
        return headers


class SigV4Verifier:
    def __init__(
        self,
        keys: Mapping[str, str],
        region: str,
        account_id: str,
        service: str = "execute-api",
        now: Callable[[], float] = time.time,
    ) -> None:
        self._keys = dict(keys)
        self._region = region
        self._account_id = account_id
        self._service = service
        self._now = now

    def verify(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | list[tuple[str, str]],
        body: bytes,
    ) -> Caller:
        """Return the caller, or raise ``SignatureRejected`` saying why not."""
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        lowered: dict[str, list[str]] = {}
        for name, value in pairs:
            lowered.setdefault(name.lower(), []).append(value)
        authorization = (lowered.get("authorization") or [""])[0]
        if not authorization:
            raise SignatureRejected(
                "MissingAuthenticationTokenException", "Missing Authentication Token"
            )
        if not authorization.startswith(ALGORITHM + " "):
            raise SignatureRejected(
                "IncompleteSignatureException",
                f"Authorization header requires the {ALGORITHM} algorithm.",
            )
        fields = dict(_FIELD.findall(authorization))
        missing = [f for f in ("Credential", "SignedHeaders", "Signature") if f not in fields]
        if missing:
            raise SignatureRejected(
                "IncompleteSignatureException",
                f"Authorization header requires '{missing[0]}' parameter.",
            )
        scope = fields["Credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise SignatureRejected(
                "IncompleteSignatureException", "Credential scope is malformed."
            )
        access_key, day, region, service, _ = scope
        secret = self._keys.get(access_key)
        if secret is None:
            raise SignatureRejected(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        if service != self._service:
            raise SignatureRejected(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{self._service}'.",
            )
        if region != self._region:
            raise SignatureRejected(
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region, not '{region}'.",
            )
        amz_date = self._amz_date(lowered, day)
        signed = fields["SignedHeaders"].split(";")
        if "host" not in signed:
            raise SignatureRejected(
                "InvalidSignatureException",
                "'Host' must be a 'SignedHeader' in the AWS Authorization.",
            )
        content_sha = next(iter(lowered.get("x-amz-content-sha256") or []), None)
        if content_sha is not None and content_sha != hashlib.sha256(body).hexdigest():
            raise SignatureRejected(
                "InvalidSignatureException",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            )
        # A signature is lowercase hex, and the signed header values are hashed as UTF-8:
        # anything else (non-ASCII, or bytes the HTTP server could only surrogate-escape)
        # cannot match, and is refused as a mismatch rather than crashing the hash.
        if not fields["Signature"].isascii() or not all(
            _utf8(value) for name, value in pairs if name.lower() in signed
        ):
            raise _mismatch()
        request = AWSRequest(method=method, url=url, data=body)
        for name, value in pairs:
            if name.lower() in signed:
                request.headers.add_header(name.lower(), value)
        request.context["timestamp"] = amz_date
        signer = _SignedHeadersOnly(Credentials(access_key, secret), service, region, signed)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected.encode(), fields["Signature"].encode()):
            raise _mismatch()
        return Caller(
            access_key=access_key,
            account_id=self._account_id,
            user_arn=f"arn:aws:iam::{self._account_id}:user/{access_key}",
        )

    def _amz_date(self, lowered: dict[str, list[str]], day: str) -> str:
        amz_date = (lowered.get("x-amz-date") or [""])[0]
        try:
            signed_at = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC).timestamp()
        except ValueError:
            raise SignatureRejected(
                "IncompleteSignatureException",
                "Authorization header requires existence of a valid 'X-Amz-Date' header.",
            ) from None
        if not amz_date.startswith(day):
            raise SignatureRejected(
                "InvalidSignatureException", "Date in Credential scope does not match X-Amz-Date."
            )
        now = self._now()
        if signed_at < now - MAX_SKEW_SECONDS:
            earliest = datetime.fromtimestamp(now - MAX_SKEW_SECONDS, UTC).strftime(_AMZ_DATE)
            raise SignatureRejected(
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is now earlier than {earliest} (now - 5 min.)",
            )
        if signed_at > now + MAX_SKEW_SECONDS:
            latest = datetime.fromtimestamp(now + MAX_SKEW_SECONDS, UTC).strftime(_AMZ_DATE)
            raise SignatureRejected(
                "InvalidSignatureException",
                f"Signature not yet current: {amz_date} is still later than {latest} "
                "(now + 5 min.)",
            )
        return amz_date
