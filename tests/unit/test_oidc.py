"""Tokens of trusted OIDC issuers: each pitfall that let forged tokens through elsewhere."""

import base64
import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.crafted import b64
from tests.oidc_provider import SigningKey, jwks
from wspush.logic import tokens
from wspush.logic.jwks import KeySet, parse_key_set
from wspush.logic.oidc import (
    GroupTopics,
    OidcVerifier,
    TrustedIssuer,
    issuers_from_json,
    parse_issuers,
)

NOW = 1_800_000_000
POOL_A = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_PoolA"
POOL_B = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_PoolB"
KEY_A = SigningKey.rsa("key-a", index=0)
KEY_B = SigningKey.rsa("key-b", index=1)
ATTACKER = SigningKey.rsa("key-x", index=2)
ISSUER_A = TrustedIssuer(
    POOL_A,
    audiences=frozenset({"client-a"}),
    client_ids=frozenset({"client-a"}),
    group_topics=GroupTopics("cognito:groups", {"admins": ("*",), "staff": ("orders.*",)}),
)
ISSUER_B = TrustedIssuer(POOL_B, audiences=frozenset({"client-b"}))


def _id_token_claims(**overrides):
    claims = {
        "sub": "user-1",
        "iss": POOL_A,
        "aud": "client-a",
        "token_use": "id",
        "iat": NOW - 10,
        "exp": NOW + 3600,
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def _access_token_claims(**overrides):
    claims = _id_token_claims(aud=None, client_id="client-a", token_use="access", scope="openid")
    claims.update(overrides)
    return claims


class Lookup:
    """Key sets by issuer, recording what was asked for."""

    def __init__(self, key_sets):
        self.key_sets = key_sets
        self.calls = []

    def __call__(self, issuer, kid):
        self.calls.append((issuer.issuer, kid))
        return self.key_sets.get(issuer.issuer, KeySet({}))


def _verifier(*issuers, key_sets=None, **kwargs):
    lookup = Lookup(
        key_sets
        if key_sets is not None
        else {POOL_A: parse_key_set(jwks(KEY_A)), POOL_B: parse_key_set(jwks(KEY_B))}
    )
    return OidcVerifier(issuers or (ISSUER_A, ISSUER_B), lookup, **kwargs), lookup


def _reason(token, verifier=None, now=NOW):
    verifier = verifier or _verifier()[0]
    with pytest.raises(tokens.TokenError) as caught:
        verifier.verify(token, now=now)
    return caught.value.reason


def test_an_id_token_of_a_trusted_issuer_yields_its_entity_and_group_topics():
    verifier, _ = _verifier()
    identity = verifier.verify(
        KEY_A.sign(_id_token_claims(**{"cognito:groups": ["staff", "admins", "other"]})), now=NOW
    )
    assert identity.entity_id == "user-1"
    assert identity.topics == ("orders.*", "*")


def test_a_token_granting_no_topics_has_none_like_an_hs256_token_without_the_claim():
    identity = _verifier()[0].verify(KEY_A.sign(_id_token_claims()), now=NOW)
    assert identity.topics is None


def test_an_access_token_is_checked_by_client_id():
    identity = _verifier()[0].verify(KEY_A.sign(_access_token_claims()), now=NOW)
    assert identity.entity_id == "user-1"
    assert _reason(KEY_A.sign(_access_token_claims(client_id="client-b"))) == "bad_audience"
    assert _reason(KEY_A.sign(_access_token_claims(client_id=None))) == "bad_audience"


# --- Issuer confusion -------------------------------------------------------------------


def test_a_key_of_issuer_a_does_not_verify_a_token_claiming_issuer_b():
    # Issuer A's key signs a token that names issuer B (and B's audience, kid of A's key):
    # B's key set, the only one consulted, has no such key.
    forged = KEY_A.sign(_id_token_claims(iss=POOL_B, aud="client-b"))
    verifier, lookup = _verifier()
    assert _reason(forged, verifier) == "unknown_kid"
    assert lookup.calls == [(POOL_B, "key-a")]


def test_the_same_key_material_in_two_issuers_sets_keeps_their_rules_apart():
    # As the emulator's Cognito does: every pool publishes the very same key.
    shared = {POOL_A: parse_key_set(jwks(KEY_A)), POOL_B: parse_key_set(jwks(KEY_A))}
    verifier, _ = _verifier(key_sets=shared)
    # A token from pool A carrying pool B's audience is pool A's token: refused by A's rules.
    assert _reason(KEY_A.sign(_id_token_claims(aud="client-b")), verifier) == "bad_audience"
    # With only pool B trusted, pool A's genuine token is not trusted at all.
    only_b, lookup = _verifier(ISSUER_B, key_sets=shared)
    assert _reason(KEY_A.sign(_id_token_claims()), only_b) == "unknown_issuer"
    assert lookup.calls == []


@pytest.mark.parametrize("iss", [POOL_A + "/", POOL_A.upper(), " " + POOL_A, None, 7, [POOL_A]])
def test_the_issuer_is_matched_exactly(iss):
    assert _reason(KEY_A.sign(_id_token_claims(iss=iss))) == "unknown_issuer"


# --- Algorithms -------------------------------------------------------------------------


def test_alg_none_is_refused():
    header = b64(json.dumps({"alg": "none", "kid": "key-a"}).encode())
    body = b64(json.dumps(_id_token_claims()).encode())
    assert _reason(f"{header}.{body}.") == "malformed"
    assert _reason(f"{header}.{body}.c2ln") == "bad_algorithm"


@pytest.mark.parametrize(
    "secret",
    [
        KEY_A.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        json.dumps(KEY_A.jwk).encode(),
        base64.urlsafe_b64decode(KEY_A.jwk["n"] + "=="),
    ],
)
def test_hs256_signed_with_the_public_key_is_refused(secret):
    header = b64(json.dumps({"alg": "HS256", "kid": "key-a"}).encode())
    body = b64(json.dumps(_id_token_claims()).encode())
    signature = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
    assert _reason(f"{header}.{body}.{b64(signature)}") == "bad_algorithm"


def test_an_oct_key_in_the_set_is_no_verification_key():
    secret_jwk = {"kty": "oct", "kid": "key-a", "k": b64(b"s" * 32), "alg": "HS256"}
    assert parse_key_set({"keys": [secret_jwk]}).keys == {}


def test_a_header_naming_another_algorithm_than_the_keys_is_refused():
    key_es = SigningKey.p256("key-es")
    issuer = TrustedIssuer(
        POOL_A, audiences=frozenset({"client-a"}), algorithms=frozenset({"RS256", "ES256"})
    )
    verifier, _ = _verifier(issuer, key_sets={POOL_A: parse_key_set(jwks(KEY_A, key_es))})
    # The RSA key's signature with a header claiming ES256 (or PS256, RS512) is refused.
    for alg in ("ES256", "PS256", "RS512"):
        assert _reason(KEY_A.sign(_id_token_claims(), alg=alg), verifier) == "bad_algorithm"
    assert verifier.verify(key_es.sign(_id_token_claims()), now=NOW).entity_id == "user-1"


def test_es256_verifies_when_the_issuer_allows_it_and_only_then():
    key_es = SigningKey.p256("key-es")
    token = key_es.sign(_id_token_claims())
    allowed = TrustedIssuer(
        POOL_A, audiences=frozenset({"client-a"}), algorithms=frozenset({"ES256"})
    )
    verifier, _ = _verifier(allowed, key_sets={POOL_A: parse_key_set(jwks(key_es))})
    assert verifier.verify(token, now=NOW).entity_id == "user-1"
    rs256_only = TrustedIssuer(POOL_A, audiences=frozenset({"client-a"}))
    assert (
        _reason(token, _verifier(rs256_only, key_sets={POOL_A: parse_key_set(jwks(key_es))})[0])
        == "bad_algorithm"
    )
    # A DER signature (what ECDSA libraries return by default) is not a JWS signature.
    head, body, _ = token.split(".")
    der = key_es.private_key.sign(f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    assert _reason(f"{head}.{body}.{b64(der)}", verifier) == "bad_signature"


# --- Keys the token brings, and kids -----------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        {"jwk": ATTACKER.jwk},
        {"jku": "https://attacker.example/jwks.json"},
        {"x5u": "https://attacker.example/cert.pem"},
        {"x5c": ["MIIB"]},
    ],
)
def test_keys_named_or_embedded_in_the_header_are_ignored(header):
    verifier, lookup = _verifier()
    # Signed by the attacker under the issuer's kid: verified with the issuer's key only.
    assert (
        _reason(ATTACKER.sign(_id_token_claims(), kid="key-a", **header), verifier)
        == "bad_signature"
    )
    # Signed by the attacker under its own kid: not in the issuer's set.
    assert _reason(ATTACKER.sign(_id_token_claims(), **header), verifier) == "unknown_kid"
    assert {issuer for issuer, _ in lookup.calls} == {POOL_A}
    # And a genuine token carrying such a header still verifies with the issuer's key.
    assert verifier.verify(KEY_A.sign(_id_token_claims(), **header), now=NOW).entity_id == "user-1"


@pytest.mark.parametrize("kid", [None, "", 12, ["key-a"]])
def test_a_token_without_a_kid_is_refused(kid):
    assert _reason(KEY_A.sign(_id_token_claims(), kid=kid)) == "missing_kid"


def test_a_kid_the_set_names_twice_verifies_nothing():
    # Even when one of the two is the right key.
    duplicated = {"keys": [KEY_A.jwk, {**KEY_B.jwk, "kid": "key-a"}]}
    verifier, _ = _verifier(key_sets={POOL_A: parse_key_set(duplicated)})
    assert _reason(KEY_A.sign(_id_token_claims()), verifier) == "ambiguous_kid"


def test_a_crit_header_is_refused():
    assert _reason(KEY_A.sign(_id_token_claims(), crit=["exp"])) == "malformed"


def test_a_tampered_payload_fails_the_signature():
    head, _, signature = KEY_A.sign(_id_token_claims()).split(".")
    body = b64(json.dumps(_id_token_claims(sub="admin")).encode())
    assert _reason(f"{head}.{body}.{signature}") == "bad_signature"


@pytest.mark.parametrize("signature", [b"", b"\x00" * 255, b"\xff" * 256, b"\x00" * 257])
def test_signatures_of_the_wrong_size_or_beyond_the_modulus_are_refused(signature):
    head, body, _ = KEY_A.sign(_id_token_claims()).split(".")
    token = f"{head}.{body}.{b64(signature) or 'AA'}"
    assert _reason(token) == "bad_signature"


# --- token_use, lifetime, audience, entity -------------------------------------------------


def test_an_id_token_where_an_access_token_is_required_and_the_reverse():
    access_only = TrustedIssuer(
        POOL_A,
        audiences=frozenset({"client-a"}),
        client_ids=frozenset({"client-a"}),
        token_use=frozenset({"access"}),
    )
    id_only = TrustedIssuer(
        POOL_A,
        audiences=frozenset({"client-a"}),
        client_ids=frozenset({"client-a"}),
        token_use=frozenset({"id"}),
    )
    id_token, access_token = KEY_A.sign(_id_token_claims()), KEY_A.sign(_access_token_claims())
    assert _reason(id_token, _verifier(access_only)[0]) == "bad_token_use"
    assert _reason(access_token, _verifier(id_only)[0]) == "bad_token_use"
    assert _verifier(access_only)[0].verify(access_token, now=NOW).entity_id == "user-1"
    assert _verifier(id_only)[0].verify(id_token, now=NOW).entity_id == "user-1"
    # Without client_ids, an access token (no aud) is never accepted, whatever its use.
    assert _reason(
        access_token, _verifier(ISSUER_B, key_sets={POOL_B: parse_key_set(jwks(KEY_A))})[0]
    ) in {"unknown_issuer"}
    no_client_ids = TrustedIssuer(POOL_A, audiences=frozenset({"client-a"}))
    assert _reason(access_token, _verifier(no_client_ids)[0]) == "bad_audience"


@pytest.mark.parametrize(
    ("overrides", "now", "reason"),
    [
        ({"exp": NOW - 31}, NOW, "expired"),
        ({"exp": None}, NOW, "missing_exp"),
        ({"exp": "soon"}, NOW, "malformed"),
        ({"nbf": NOW + 31}, NOW, "not_yet_valid"),
        ({"iat": NOW + 31}, NOW, "not_yet_valid"),
        ({"iat": "yesterday"}, NOW, "malformed"),
    ],
)
def test_lifetime_claims_are_checked(overrides, now, reason):
    assert _reason(KEY_A.sign(_id_token_claims(**overrides)), now=now) == reason


def test_the_leeway_allows_small_clock_differences():
    verifier, _ = _verifier()
    token = KEY_A.sign(_id_token_claims(exp=NOW - 29, nbf=NOW + 29, iat=NOW + 29))
    assert verifier.verify(token, now=NOW).entity_id == "user-1"


@pytest.mark.parametrize("aud", ["client-b", ["client-b", "other"], [], 5, [5], ""])
def test_a_wrong_audience_is_refused(aud):
    assert _reason(KEY_A.sign(_id_token_claims(aud=aud))) == "bad_audience"


def test_an_audience_list_naming_ours_is_accepted():
    token = KEY_A.sign(_id_token_claims(aud=["other", "client-a"]))
    assert _verifier()[0].verify(token, now=NOW).entity_id == "user-1"


def test_the_entity_comes_from_the_configured_claim_and_must_be_an_entity_id():
    issuer = TrustedIssuer(
        POOL_A, audiences=frozenset({"client-a"}), entity_claim="cognito:username"
    )
    verifier, _ = _verifier(issuer)
    assert (
        verifier.verify(
            KEY_A.sign(_id_token_claims(**{"cognito:username": "ann@example.com"})), now=NOW
        ).entity_id
        == "ann@example.com"
    )
    assert _reason(KEY_A.sign(_id_token_claims()), verifier) == "missing_sub"
    for bad in ("topic#x", "a b", "", "x" * 129, 7):
        assert (
            _reason(KEY_A.sign(_id_token_claims(**{"cognito:username": bad})), verifier)
            == "invalid_sub"
        )


# --- Topics ---------------------------------------------------------------------------------


def test_topics_come_from_a_claim_as_a_list_or_a_string_and_from_scopes():
    issuer = TrustedIssuer(
        POOL_A,
        client_ids=frozenset({"client-a"}),
        topics_claim="custom:topics",
        group_topics=GroupTopics("scope", {"wspush/orders": ("orders.*",)}),
    )
    verifier, _ = _verifier(issuer)
    as_string = _access_token_claims(
        scope="openid wspush/orders", **{"custom:topics": "news user:1/*"}
    )
    assert verifier.verify(KEY_A.sign(as_string), now=NOW).topics == (
        "news",
        "user:1/*",
        "orders.*",
    )
    as_list = _access_token_claims(**{"custom:topics": ["news", "news"]})
    assert verifier.verify(KEY_A.sign(as_list), now=NOW).topics == ("news",)


@pytest.mark.parametrize("value", [["bad topic"], [7], {"a": 1}, ["a*b"]])
def test_invalid_topic_patterns_in_the_claim_are_refused(value):
    issuer = TrustedIssuer(POOL_A, audiences=frozenset({"client-a"}), topics_claim="topics")
    assert (
        _reason(KEY_A.sign(_id_token_claims(topics=value)), _verifier(issuer)[0])
        == "invalid_topics"
    )


def test_granted_topics_have_the_hs256_claims_size_limit():
    # Small groups granting long patterns: the token is small, what it grants is not.
    patterns = {f"g{i}": (f"t{i:03}.{'x' * 100}",) for i in range(30)}
    issuer = TrustedIssuer(
        POOL_A, audiences=frozenset({"client-a"}), group_topics=GroupTopics("groups", patterns)
    )
    token = KEY_A.sign(_id_token_claims(groups=list(patterns)))
    assert _reason(token, _verifier(issuer)[0]) == "topics_too_large"


def test_huge_and_deeply_nested_tokens_are_refused_before_any_key_is_looked_up():
    verifier, lookup = _verifier()
    assert _reason(KEY_A.sign(_id_token_claims(padding="x" * 5000)), verifier) == "too_large"
    # Deeper than the parser allows, yet within the size limit.
    nested = b64(b'{"iss":"' + POOL_A.encode() + b'","a":' + b"[" * 1100 + b"]" * 1100 + b"}")
    head = b64(json.dumps({"alg": "RS256", "kid": "key-a"}).encode())
    assert len(f"{head}.{nested}.c2ln") <= tokens.MAX_TOKEN_CHARS
    assert _reason(f"{head}.{nested}.c2ln", verifier) == "malformed"
    assert lookup.calls == []


# --- Key sets -------------------------------------------------------------------------------


def test_keys_that_cannot_verify_rs256_or_es256_are_left_out():
    small = SigningKey.rsa("small", index=9, bits=1024)
    off_curve = {**SigningKey.p256("off").jwk, "y": b64(b"\x01" * 32)}
    document = {
        "keys": [
            KEY_A.jwk,
            small.jwk,
            {**KEY_B.jwk, "use": "enc"},
            {**KEY_B.jwk, "kid": "rs512", "alg": "RS512"},
            {**KEY_B.jwk, "kid": "ops", "key_ops": ["encrypt"]},
            off_curve,
            {**KEY_B.jwk, "kid": "bad-n", "n": "!!"},
            {**KEY_B.jwk, "kid": "even-e", "e": b64(b"\x02")},
            {**KEY_B.jwk, "kid": None},
            "not a key",
        ]
    }
    assert set(parse_key_set(document).keys) == {"key-a"}


@pytest.mark.parametrize("document", [[], {"keys": {}}, {"keys": [KEY_A.jwk] * 65}, "x"])
def test_a_document_that_is_not_a_key_set_is_refused(document):
    with pytest.raises(ValueError):
        parse_key_set(document)


# --- Configuration --------------------------------------------------------------------------


def test_the_configuration_reads_terraforms_json_with_nulls_for_absent_attributes():
    (issuer,) = issuers_from_json(
        json.dumps(
            [
                {
                    "issuer": POOL_A,
                    "audiences": ["client-a"],
                    "client_ids": None,
                    "jwks_uri": None,
                    "entity_claim": None,
                    "topics_claim": None,
                    "group_topics": {"claim": "cognito:groups", "patterns": {"admins": ["*"]}},
                    "token_use": ["id"],
                    "algorithms": None,
                }
            ]
        )
    )
    assert issuer == TrustedIssuer(
        POOL_A,
        audiences=frozenset({"client-a"}),
        group_topics=GroupTopics("cognito:groups", {"admins": ("*",)}),
        token_use=frozenset({"id"}),
    )
    assert issuers_from_json("") == ()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, "a list"),
        ([{"issuer": POOL_A}], "audiences"),
        ([{"issuer": POOL_A, "audiences": ["a"], "token_use": ["refresh"]}], "token_use"),
        ([{"issuer": POOL_A, "audiences": ["a"], "algorithms": ["HS256"]}], "algorithms"),
        (
            [
                {
                    "issuer": POOL_A,
                    "audiences": ["a"],
                    "group_topics": {"claim": "g", "patterns": {"x": ["a b"]}},
                }
            ],
            "topic patterns",
        ),
        ([{"issuer": POOL_A, "audiences": ["a"]}, {"issuer": POOL_A, "audiences": ["b"]}], "twice"),
    ],
)
def test_an_invalid_configuration_is_refused_naming_the_problem(document, message):
    with pytest.raises(ValueError, match=message):
        parse_issuers(document)
