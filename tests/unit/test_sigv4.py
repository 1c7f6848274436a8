"""SigV4 verification as API Gateway applies it to IAM-authorized routes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from wspush_local.gateway.sigv4 import SignatureRejected, SigV4Verifier

URL = "http://127.0.0.1:8081/local/publish"
BODY = b'{"entityId": "m1", "payload": {"orderId": "o-1"}}'
NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
LOCAL = Credentials("local", "local")


def _signed(
    credentials: Credentials = LOCAL,
    body: bytes = BODY,
    at: datetime = NOW,
    service: str = "execute-api",
    region: str = "us-east-1",
    extra_headers: dict[str, str] | None = None,
) -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url=URL,
        data=body,
        headers={"content-type": "application/json", **(extra_headers or {})},
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=at):
        SigV4Auth(credentials, service, region).add_auth(request)
    headers = dict(request.prepare().headers.items())
    headers["Host"] = "127.0.0.1:8081"  # what the HTTP client sends
    return headers


def _verifier() -> SigV4Verifier:
    return SigV4Verifier({"local": "local"}, "us-east-1", "123456789012", now=NOW.timestamp)


def _refusal(
    headers, body: bytes = BODY, method: str = "POST", url: str = URL
) -> SignatureRejected:
    with pytest.raises(SignatureRejected) as refused:
        _verifier().verify(method, url, headers, body)
    assert refused.value.status == 403
    return refused.value


def test_a_request_signed_with_the_local_key_verifies_and_names_the_caller():
    caller = _verifier().verify("POST", URL, _signed(), BODY)
    assert caller.access_key == "local"
    assert caller.user_arn == "arn:aws:iam::123456789012:user/local"


def test_a_signed_payload_hash_header_is_accepted_when_it_matches():
    digest = hashlib.sha256(BODY).hexdigest()
    headers = _signed(extra_headers={"x-amz-content-sha256": digest})
    assert _verifier().verify("POST", URL, headers, BODY).access_key == "local"
    wrong = _signed(extra_headers={"x-amz-content-sha256": "0" * 64})
    assert "x-amz-content-sha256" in _refusal(wrong).message


def test_a_missing_signature_is_refused():
    refusal = _refusal({"content-type": "application/json", "Host": "127.0.0.1:8081"})
    assert refusal.error_type == "MissingAuthenticationTokenException"


def test_a_key_the_stack_does_not_know_is_refused():
    refusal = _refusal(_signed(Credentials("AKIDEXAMPLE", "local")))
    assert refusal.error_type == "UnrecognizedClientException"


def test_a_wrong_secret_is_a_bad_signature():
    refusal = _refusal(_signed(Credentials("local", "guessed")))
    assert refusal.error_type == "InvalidSignatureException"
    assert "signature we calculated" in refusal.message


@pytest.mark.parametrize(
    ("body", "method", "url"),
    [
        (b'{"entityId": "m2", "payload": {"orderId": "o-1"}}', "POST", URL),  # body changed
        (BODY, "PUT", URL),  # method changed
        (BODY, "POST", "http://127.0.0.1:8081/other/publish"),  # path changed
    ],
)
def test_a_request_changed_after_signing_is_refused(body, method, url):
    refusal = _refusal(_signed(), body=body, method=method, url=url)
    assert refusal.error_type == "InvalidSignatureException"


def test_an_expired_date_is_refused_and_one_within_five_minutes_is_not():
    refusal = _refusal(_signed(at=NOW - timedelta(minutes=5, seconds=1)))
    assert refusal.message.startswith("Signature expired: 20261121T115459Z")
    assert _verifier().verify("POST", URL, _signed(at=NOW - timedelta(minutes=4)), BODY)
    assert "not yet current" in _refusal(_signed(at=NOW + timedelta(minutes=6))).message


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"service": "lambda"}, "correct service: 'execute-api'"),
        ({"region": "eu-west-1"}, "valid region"),
    ],
)
def test_a_signature_for_another_service_or_region_is_refused(kwargs, says):
    assert says in _refusal(_signed(**kwargs)).message


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer abc",
        "AWS4-HMAC-SHA256 Credential=local/20261121/us-east-1/execute-api/aws4_request",
        "AWS4-HMAC-SHA256 Credential=local/x, SignedHeaders=host, Signature=00",
    ],
)
def test_a_malformed_authorization_header_is_refused(authorization):
    headers = {**_signed(), "Authorization": authorization}
    assert _refusal(headers).error_type == "IncompleteSignatureException"


def test_a_signature_that_is_not_hex_is_a_bad_signature_not_a_crash():
    headers = _signed()
    authorization = headers["Authorization"]
    headers["Authorization"] = authorization[: authorization.index("Signature=") + 10] + "é" * 64
    assert _refusal(headers).error_type == "InvalidSignatureException"


# What aiohttp hands over for header bytes that are not UTF-8 (surrogate escapes).
NOT_UTF8 = b"\xff\xfe\xc3(".decode("utf-8", "surrogateescape")


@pytest.mark.parametrize("header", ["Authorization", "Host", "content-type", "X-Amz-Date"])
def test_header_bytes_that_are_not_utf8_are_refused_with_403_not_a_crash(header):
    headers = _signed()
    if header == "Authorization":
        authorization = headers["Authorization"]
        cut = authorization.index("Signature=") + 10
        headers["Authorization"] = authorization[:cut] + NOT_UTF8 + authorization[cut + 4 :]
    else:
        headers[header] = NOT_UTF8
    refused = _refusal(headers)
    assert refused.status == 403 and refused.error_type in (
        "InvalidSignatureException",
        "IncompleteSignatureException",
    )


_header_text = st.text(st.characters(codec=None), max_size=80) | st.binary(max_size=40).map(
    lambda raw: raw.decode("utf-8", "surrogateescape")
)


@settings(max_examples=300, deadline=None)
@given(
    replaced=st.dictionaries(
        st.sampled_from(["Host", "X-Amz-Date", "content-type", "x-amz-content-sha256"]),
        _header_text,
        max_size=4,
    ),
    credential=_header_text | st.just("local/20261121/us-east-1/execute-api/aws4_request"),
    signed_headers=_header_text | st.sampled_from(["host;x-amz-date", "content-type;host"]),
    signature=_header_text,
)
def test_no_header_value_makes_the_verifier_crash(replaced, credential, signed_headers, signature):
    # Given a request whose headers and Authorization fields are arbitrary text or bytes
    headers = {
        **_signed(),
        **replaced,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={credential}, "
        f"SignedHeaders={signed_headers}, Signature={signature}",
    }
    # Then it is refused with a 4xx, never an exception
    with pytest.raises(SignatureRejected) as refused:
        _verifier().verify("POST", URL, headers, BODY)
    assert 400 <= refused.value.status < 500
