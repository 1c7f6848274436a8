import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wspush.logic import tokens

SECRET = b"s3cret-for-tests"
NOW = 1_800_000_000


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _reason(token: str, secrets=(SECRET,), now=NOW) -> str:
    with pytest.raises(tokens.TokenError) as caught:
        tokens.verify(token, list(secrets), now=now)
    return caught.value.reason


def test_a_valid_token_yields_its_claims():
    # Given a token issued for user-1
    token = tokens.issue("user-1", SECRET, ttl_seconds=60, now=NOW)
    # When it is verified within its lifetime
    claims = tokens.verify(token, [SECRET], now=NOW + 30)
    # Then the subject is the entity
    assert claims["sub"] == "user-1"
    assert claims["exp"] == NOW + 60


def test_an_expired_token_is_refused():
    token = tokens.issue("user-1", SECRET, ttl_seconds=60, now=NOW)
    assert _reason(token, now=NOW + 60 + tokens.DEFAULT_LEEWAY_SECONDS + 1) == "expired"


def test_a_tampered_payload_is_refused():
    header, _, signature = tokens.issue("user-1", SECRET, now=NOW).split(".")
    forged = _b64({"sub": "admin", "exp": NOW + 3600})
    assert _reason(f"{header}.{forged}.{signature}") == "bad_signature"


def test_a_token_signed_with_another_secret_is_refused():
    assert _reason(tokens.issue("user-1", b"other", now=NOW)) == "bad_signature"


@pytest.mark.parametrize("alg", ["none", "HS512", "RS256", None])
def test_any_algorithm_but_hs256_is_refused(alg):
    header = _b64({"alg": alg, "typ": "JWT"})
    body = _b64({"sub": "user-1", "exp": NOW + 60})
    assert _reason(f"{header}.{body}.") in {"malformed", "bad_algorithm"}
    assert _reason(f"{header}.{body}.c2ln") == "bad_algorithm"


def test_a_token_without_sub_is_refused():
    token = tokens.sign({"exp": NOW + 60}, SECRET)
    assert _reason(token) == "missing_sub"


def test_a_token_whose_sub_is_not_an_entity_id_is_refused():
    assert _reason(tokens.sign({"sub": "topic#news", "exp": NOW + 60}, SECRET)) == "invalid_sub"
    assert _reason(tokens.sign({"sub": 42, "exp": NOW + 60}, SECRET)) == "invalid_sub"


def test_a_token_without_exp_is_refused():
    assert _reason(tokens.sign({"sub": "user-1"}, SECRET)) == "missing_exp"


def test_a_token_not_yet_valid_is_refused():
    token = tokens.sign({"sub": "u", "exp": NOW + 600, "nbf": NOW + 300}, SECRET)
    assert _reason(token) == "not_yet_valid"


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c.d", "..", "!!.@@.##"])
def test_malformed_tokens_are_refused(token):
    assert _reason(token) in {"missing", "malformed", "bad_algorithm"}


def test_any_of_several_secrets_verifies_during_rotation():
    # Given the stored value lists the new secret first and the old one second
    secrets = tokens.parse_secrets("new-secret\nold-secret\n")
    # Then a token signed with the old secret still verifies
    old = tokens.issue("user-1", b"old-secret", now=NOW)
    assert tokens.verify(old, secrets, now=NOW)["sub"] == "user-1"


def test_an_empty_secret_value_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        tokens.parse_secrets("\n  \n")


@given(st.text(max_size=300))
def test_arbitrary_strings_are_refused_with_a_known_reason(garbage):
    known = {"missing", "malformed", "bad_algorithm", "bad_signature"}
    with pytest.raises(tokens.TokenError) as caught:
        tokens.verify(garbage, [SECRET], now=NOW)
    assert caught.value.reason in known
