"""The local JWT authorizer: API Gateway's HTTP API validation against the local issuer."""

from __future__ import annotations

import hashlib
import hmac
import json
import stat

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.crafted import stray_bits
from tests.hostile import hostile_bytes, json_texts
from wspush.logic.tokens import b64url_encode
from wspush_local.gateway.jwt_authorizer import (
    KEY_FILE,
    JwtAuthorizer,
    JwtConfiguration,
    JwtRejected,
    LocalIssuer,
    claim_text,
)

NOW = 1_800_000_000
ISSUER = "https://issuer.example"
CONFIGURATION = JwtConfiguration(ISSUER, ("wspush", "other-client"))
SCOPED = JwtConfiguration(ISSUER, ("wspush",), scopes=("publish", "admin"))


@pytest.fixture(scope="module")
def issuer(tmp_path_factory) -> LocalIssuer:
    return LocalIssuer.load_or_create(tmp_path_factory.mktemp("issuer"))


@pytest.fixture(scope="module")
def stranger(tmp_path_factory) -> LocalIssuer:
    return LocalIssuer.load_or_create(tmp_path_factory.mktemp("stranger"))


def _claims(**overrides) -> dict:
    claims = {"iss": ISSUER, "aud": "wspush", "sub": "backend-1", "iat": NOW - 10, "exp": NOW + 60}
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def _authorize(issuer: LocalIssuer, header: str | None, configuration=CONFIGURATION) -> dict:
    authorizer = JwtAuthorizer(configuration, issuer.public_key, issuer.kid, clock=lambda: NOW)
    return authorizer.authorize({} if header is None else {"Authorization": header})


def _refusal(issuer: LocalIssuer, header: str | None, configuration=CONFIGURATION) -> JwtRejected:
    with pytest.raises(JwtRejected) as caught:
        _authorize(issuer, header, configuration)
    return caught.value


def _unsigned(header: dict, claims: dict, signature: bytes = b"") -> str:
    parts = [b64url_encode(json.dumps(part).encode()) for part in (header, claims)]
    return ".".join([*parts, b64url_encode(signature)])


def test_a_valid_bearer_token_yields_its_claims_as_strings(issuer):
    # Given a token from the local issuer with non-string claims
    token = issuer.sign(_claims(groups=["a", "b"], verified=True, address={"c": "JP"}, gone=None))
    # When API Gateway's checks run on its Authorization header
    authorizer = _authorize(issuer, f"Bearer {token}")
    # Then the event carries every claim as a string, and no scopes for an unscoped route
    claims = authorizer["jwt"]["claims"]
    assert claims["sub"] == "backend-1" and claims["exp"] == str(NOW + 60)
    assert claims["groups"] == "[a b]" and claims["verified"] == "true"
    assert claims["address"] == '{"c":"JP"}' and "gone" not in claims
    assert authorizer["jwt"]["scopes"] is None


def test_the_token_alone_is_accepted_without_the_bearer_prefix(issuer):
    assert _authorize(issuer, issuer.sign(_claims()))["jwt"]["claims"]["sub"] == "backend-1"


def test_an_audience_list_needs_one_configured_audience(issuer):
    token = issuer.sign(_claims(aud=["someone", "other-client"]))
    assert _authorize(issuer, f"Bearer {token}")["jwt"]["claims"]["aud"] == "[someone other-client]"


def test_client_id_stands_for_a_missing_aud(issuer):
    token = issuer.sign(_claims(aud=None, client_id="other-client"))
    assert _authorize(issuer, f"Bearer {token}")["jwt"]["claims"]["client_id"] == "other-client"


@pytest.mark.parametrize("aud", ["someone", [], ""])
def test_client_id_is_ignored_when_aud_is_present(issuer, aud):
    token = issuer.sign(_claims(aud=aud, client_id="wspush"))
    refused = _refusal(issuer, f"Bearer {token}")
    assert refused.status == 401 and "valid audience" in refused.challenge


def test_a_wrong_audience_is_refused_with_api_gateways_challenge(issuer):
    refused = _refusal(issuer, f"Bearer {issuer.sign(_claims(aud='someone'))}")
    assert (refused.status, refused.message) == (401, "Unauthorized")
    assert refused.challenge == (
        'Bearer scope="" error="invalid_token" '
        'error_description="the token does not have a valid audience"'
    )


def test_no_audience_at_all_is_refused(issuer):
    assert _refusal(issuer, f"Bearer {issuer.sign(_claims(aud=None))}").status == 401


@pytest.mark.parametrize(
    ("overrides", "description"),
    [
        ({"iss": "https://issuer.example/"}, "the token does not have a valid issuer"),
        ({"iss": None}, "the token does not have a valid issuer"),
        ({"exp": NOW - 1}, "the token has expired"),
        ({"exp": NOW}, "the token has expired"),
        ({"exp": None}, "the token has no exp claim"),
        ({"nbf": NOW + 5}, "the token is not valid yet"),
        ({"iat": NOW + 5}, "the token was issued in the future"),
        ({"exp": "tomorrow"}, "the token is malformed"),
    ],
)
def test_claims_are_checked_as_api_gateway_documents(issuer, overrides, description):
    refused = _refusal(issuer, f"Bearer {issuer.sign(_claims(**overrides))}")
    assert refused.status == 401 and f'error_description="{description}"' in refused.challenge


def test_nbf_and_iat_in_the_past_are_fine(issuer):
    token = issuer.sign(_claims(nbf=NOW - 1, iat=NOW))
    assert _authorize(issuer, f"Bearer {token}")["jwt"]["claims"]["nbf"] == str(NOW - 1)


def test_a_tampered_payload_fails_the_signature(issuer):
    header, _, signature = issuer.sign(_claims()).split(".")
    forged = b64url_encode(json.dumps(_claims(sub="admin")).encode())
    refused = _refusal(issuer, f"Bearer {header}.{forged}.{signature}")
    assert "signature is invalid" in refused.challenge


def test_another_keys_signature_under_our_kid_is_refused(issuer):
    # Given a token signed by another RSA key, its header naming the local issuer's kid
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    header = {"alg": "RS256", "typ": "JWT", "kid": issuer.kid}
    signing_input = ".".join(
        b64url_encode(json.dumps(part).encode()) for part in (header, _claims())
    )
    signature = other.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    # Then the signature check refuses it
    refused = _refusal(issuer, f"Bearer {signing_input}.{b64url_encode(signature)}")
    assert "signature is invalid" in refused.challenge


def test_a_token_from_another_key_is_refused_by_kid(issuer, stranger):
    refused = _refusal(issuer, f"Bearer {stranger.sign(_claims())}")
    assert "kid does not match" in refused.challenge


def test_a_missing_kid_is_refused(issuer):
    token = _unsigned({"alg": "RS256", "typ": "JWT"}, _claims(), b"x" * 256)
    assert "kid does not match" in _refusal(issuer, f"Bearer {token}").challenge


def test_alg_none_is_refused(issuer):
    # Given unsigned tokens, with an empty signature and with some bytes in its place
    bare = _unsigned({"alg": "none", "kid": issuer.kid}, _claims())
    padded = _unsigned({"alg": "none", "kid": issuer.kid}, _claims(), b"x")
    # Then both are refused, the second for its algorithm
    assert _refusal(issuer, f"Bearer {bare}").status == 401
    assert "signing method is not RS256" in _refusal(issuer, f"Bearer {padded}").challenge


def test_hs256_signed_with_the_public_key_is_refused(issuer):
    # Given the classic confusion: HS256 keyed with the (public) verification key
    public_pem = issuer.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": issuer.kid}
    signing_input = ".".join(
        b64url_encode(json.dumps(part).encode()) for part in (header, _claims())
    )
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    # Then it is refused for its algorithm
    refused = _refusal(issuer, f"Bearer {signing_input}.{b64url_encode(mac)}")
    assert "signing method is not RS256" in refused.challenge


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer abc",
        "Bearer a.b",
        "Bearer a.b.c",
        "Bearer ..",
        "Basic dXNlcjpwYXNz",
        "Bearer " + b64url_encode(b"[1]") + ".e30.c2ln",
        "Bearer " + "a" * 5000 + ".b.c",
    ],
)
def test_a_malformed_header_or_token_is_a_401(issuer, header):
    refused = _refusal(issuer, header)
    assert (refused.status, refused.message) == (401, "Unauthorized")


def test_no_authorization_header_is_a_401_without_an_error_code(issuer):
    refused = _refusal(issuer, None)
    assert refused.status == 401 and refused.challenge == 'Bearer scope=""'


@pytest.mark.parametrize(
    "scopes",
    [{"scope": "read publish"}, {"scp": ["admin"]}, {"scp": "publish"}],
)
def test_a_token_with_one_of_the_route_scopes_passes(issuer, scopes):
    authorizer = _authorize(issuer, f"Bearer {issuer.sign(_claims(**scopes))}", SCOPED)
    assert set(authorizer["jwt"]["scopes"]) & {"publish", "admin"}


@pytest.mark.parametrize("scopes", [{}, {"scope": "read write"}, {"scp": ["read"]}, {"scope": 7}])
def test_a_token_without_the_route_scopes_is_forbidden(issuer, scopes):
    refused = _refusal(issuer, f"Bearer {issuer.sign(_claims(**scopes))}", SCOPED)
    assert (refused.status, refused.message) == (403, "Forbidden")
    assert refused.challenge.startswith('Bearer scope="publish admin" error="insufficient_scope"')


def test_the_issuer_key_is_created_once_with_mode_0600(tmp_path):
    # Given a work directory without a key
    first = LocalIssuer.load_or_create(tmp_path)
    # When another process loads it
    again = LocalIssuer.load(tmp_path)
    # Then it is the same key, readable by its owner only, and its tokens verify
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    assert again.kid == first.kid == LocalIssuer.load_or_create(tmp_path).kid
    assert list(tmp_path.iterdir()) == [tmp_path / KEY_FILE]
    assert _authorize(first, f"Bearer {again.sign(_claims())}")["jwt"]["claims"]["sub"]


def test_loading_a_missing_key_says_how_to_get_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="JWT authorizer"):
        LocalIssuer.load(tmp_path)


def test_a_publish_token_carries_the_authorizers_issuer_audience_and_scopes(issuer):
    token = issuer.publish_token(SCOPED, "wspush-cli", ["publish"], 300, now=NOW - 10)
    authorizer = _authorize(issuer, f"Bearer {token}", SCOPED)
    claims = authorizer["jwt"]["claims"]
    assert (claims["iss"], claims["aud"], claims["sub"]) == (ISSUER, "wspush", "wspush-cli")
    assert claims["exp"] == str(NOW + 290) and authorizer["jwt"]["scopes"] == ["publish"]


@pytest.mark.parametrize(
    ("value", "text"),
    [("x", "x"), (3, "3"), (3.0, "3"), (1.5, "1.5"), (False, "false"), ([1, "a"], "[1 a]")],
)
def test_claim_text(value, text):
    assert claim_text(value) == text


def _rs256(issuer: LocalIssuer, header: bytes, claims: bytes) -> str:
    """A token correctly signed by ``issuer`` around raw header and claims bytes."""
    signing_input = f"{b64url_encode(header)}.{b64url_encode(claims)}"
    signature = issuer._private_key.sign(
        signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    return f"{signing_input}.{b64url_encode(signature)}"


@pytest.mark.parametrize(
    ("header", "claims"),
    [
        # A duplicated claim: a reader of the first "sub" and one of the last disagree
        (None, b'"sub":"backend-1","sub":"admin",'),
        # A duplicated header member
        (b'{"alg":"RS256","alg":"RS256","kid":"%s"}', b""),
        # Claims nested deeper than any JSON this service reads
        (None, b'"x":' + b"[" * 65 + b"]" * 65 + b","),
    ],
)
def test_a_signed_token_with_duplicate_keys_or_deep_nesting_is_a_401(issuer, header, claims):
    base = json.dumps(_claims(), separators=(",", ":")).encode()
    raw_claims = b"{" + claims + base[1:]
    raw_header = (
        header % issuer.kid.encode()
        if header
        else json.dumps({"alg": "RS256", "typ": "JWT", "kid": issuer.kid}).encode()
    )
    refused = _refusal(issuer, f"Bearer {_rs256(issuer, raw_header, raw_claims)}")
    assert (refused.status, refused.message) == (401, "Unauthorized")
    assert "malformed" in refused.challenge


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s + "==",
        lambda s: s[:4] + "!!!!" + s[4:],
        lambda s: s.replace("-", "+").replace("_", "/") if ("-" in s or "_" in s) else s + "=",
        stray_bits,
    ],
)
def test_a_signature_spelt_other_than_canonical_base64url_is_a_401(issuer, edit):
    # Given a valid token (a 256-byte signature: 342 characters, 4 unused bits at the end)
    token = issuer.sign(_claims())
    assert _authorize(issuer, f"Bearer {token}")["jwt"]["claims"]["sub"] == "backend-1"
    # When its signature is respelt so Python's decoder still reads the same bytes
    signing_input, _, signature = token.rpartition(".")
    refused = _refusal(issuer, f"Bearer {signing_input}.{edit(signature)}")
    # Then it is refused as malformed
    assert (refused.status, refused.message) == (401, "Unauthorized")
    assert "malformed" in refused.challenge


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    header=st.one_of(st.none(), hostile_bytes),
    claims=hostile_bytes,
    scheme=st.sampled_from(["Bearer ", "bearer ", ""]),
)
def test_any_signed_token_is_accepted_or_refused_with_401_or_403_never_raised(
    issuer, header, claims, scheme
):
    # Given a token signed by the local issuer around any header and claims bytes
    raw_header = header or json.dumps({"alg": "RS256", "typ": "JWT", "kid": issuer.kid}).encode()
    token = _rs256(issuer, raw_header, claims)
    # Then the authorizer accepts it with string claims, or refuses it with a status
    try:
        accepted = _authorize(issuer, scheme + token, SCOPED)
    except JwtRejected as refused:
        assert refused.status in (401, 403)
        return
    assert all(isinstance(value, str) for value in accepted["jwt"]["claims"].values())


@settings(max_examples=100, deadline=None)
@given(value=st.one_of(json_texts, st.text(max_size=300)))
def test_any_authorization_header_is_refused_with_a_status_never_raised(issuer, value):
    with pytest.raises(JwtRejected) as refused:
        _authorize(issuer, value)
    assert refused.value.status == 401
