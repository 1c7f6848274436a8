import base64
import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.crafted import signed_token, stray_bits
from wspush.logic import strict_json, tokens
from wspush.logic.tokens import b64url_encode

SECRET = b"s3cret-for-tests-at-least-32-bytes"
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
    secrets = tokens.parse_secrets(f"{'n' * 32}\n{'o' * 32}\n")
    # Then a token signed with the old secret still verifies
    old = tokens.issue("user-1", b"o" * 32, now=NOW)
    assert tokens.verify(old, secrets, now=NOW)["sub"] == "user-1"


def test_an_empty_secret_value_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        tokens.parse_secrets("\n  \n")


def test_a_short_secret_is_refused_without_showing_it():
    with pytest.raises(ValueError, match="line 2 is 5 bytes") as caught:
        tokens.parse_secrets(f"{'a' * 32}\nshort")
    assert "short" not in str(caught.value)


# Crafted input --------------------------------------------------------------------------


def _signed(body: bytes) -> str:
    return signed_token(body, SECRET)


def test_a_token_over_the_size_limit_is_refused_before_decoding():
    token = "x" * (tokens.MAX_TOKEN_CHARS + 1)
    assert _reason(token) == "too_large"
    padded = tokens.sign({"sub": "u", "exp": NOW + 60, "pad": "x" * 4000}, SECRET)
    assert _reason(padded) == "too_large"


@pytest.mark.parametrize(
    "exp",
    [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"9" * 30, b"1" + b"0" * 5000],
)
def test_numbers_that_are_not_finite_or_too_long_are_malformed(exp):
    # Python's JSON reads NaN, Infinity and 1e400; such an exp would never expire
    assert _reason(_signed(b'{"sub":"u","exp":' + exp + b"}")) in {"malformed", "too_large"}
    assert _reason(_signed(b'{"sub":"u","exp":1,"x":[' + exp[:3000] + b"]}")) in {
        "malformed",
        "too_large",
    }


def test_deeply_nested_json_is_malformed_not_a_recursion_error():
    # Within the size limit: as deep as fits, refused (exp is past) or malformed, never raised
    depth = 1400
    nested = b'{"sub":"u","exp":1,"x":' + b"[" * depth + b"]" * depth + b"}"
    token = _signed(nested)
    assert len(token) <= tokens.MAX_TOKEN_CHARS
    assert _reason(token) in {"malformed", "expired"}
    # Deeper than any recursion limit (the parser alone, without the size check)
    deep = base64.urlsafe_b64encode(b"[" * 200_000 + b"]" * 200_000).decode()
    with pytest.raises(tokens.TokenError, match="malformed"):
        tokens.decode_segment(deep)


@pytest.mark.parametrize(
    "payload",
    [
        b'{"sub":"victor","sub":"mallory","exp":%d}',
        b'{"sub":"u","exp":1,"exp":%d}',
        b'{"sub":"u","exp":%d,"topics":["a"],"topics":["*"]}',
    ],
)
def test_a_claim_twice_is_malformed(payload):
    # Given a correctly signed token whose payload repeats a claim / Then it is refused,
    # not read as whichever copy Python's parser keeps
    assert _reason(_signed(payload % (NOW + 60))) == "malformed"


def test_a_header_member_twice_is_malformed():
    header = b64url_encode(b'{"alg":"none","alg":"HS256"}')
    body = b64url_encode(b'{"sub":"u","exp":%d}' % (NOW + 60))
    signing_input = f"{header}.{body}".encode()
    signature = b64url_encode(hmac.new(SECRET, signing_input, hashlib.sha256).digest())
    assert _reason(f"{header}.{body}.{signature}") == "malformed"


def test_claims_nested_past_the_bound_are_malformed():
    depth = strict_json.MAX_DEPTH  # with the claims object itself, one level too many
    nested = b'{"sub":"u","exp":%d,"x":' % (NOW + 60) + b"[" * depth + b"]" * depth + b"}"
    assert _reason(_signed(nested)) == "malformed"
    fits = b'{"sub":"u","exp":%d,"x":' % (NOW + 60) + b"[" * (depth - 1) + b"]" * (depth - 1)
    assert tokens.verify(_signed(fits + b"}"), [SECRET], now=NOW)["sub"] == "u"


def test_a_critical_header_extension_is_refused():
    header = _b64({"alg": "HS256", "crit": ["exp"]})
    assert _reason(f"{header}.e30.c2ln") == "malformed"


# Audience and issuer ---------------------------------------------------------------------


def _verify(claims: dict, **kwargs) -> dict:
    token = tokens.sign({"sub": "u", "exp": NOW + 60, **claims}, SECRET)
    return tokens.verify(token, [SECRET], now=NOW, **kwargs)


@pytest.mark.parametrize("aud", ["wspush", ["other", "wspush"]])
def test_the_configured_audience_is_accepted_as_a_string_or_in_a_list(aud):
    assert _verify({"aud": aud}, audience="wspush")["sub"] == "u"


@pytest.mark.parametrize(
    ("claims", "audience"),
    [({}, "wspush"), ({"aud": "other"}, "wspush"), ({"aud": 7}, "wspush"), ({"aud": "x"}, None)],
)
def test_a_missing_wrong_or_unexpected_audience_is_refused(claims, audience):
    with pytest.raises(tokens.TokenError, match="bad_audience"):
        _verify(claims, audience=audience)


def test_the_issuer_is_checked_only_when_configured():
    assert _verify({"iss": "anyone"})["sub"] == "u"
    assert _verify({"iss": "https://auth.example"}, issuer="https://auth.example")["sub"] == "u"
    for claims in ({}, {"iss": "https://evil.example"}):
        with pytest.raises(tokens.TokenError, match="bad_issuer"):
            _verify(claims, issuer="https://auth.example")


# The topics claim -----------------------------------------------------------------------


def test_issued_topics_round_trip():
    token = tokens.issue("u", SECRET, now=NOW, topics=["orders.*", "news"])
    assert tokens.topic_patterns(tokens.verify(token, [SECRET], now=NOW)) == ["orders.*", "news"]
    unscoped = tokens.issue("u", SECRET, now=NOW)
    assert tokens.topic_patterns(tokens.verify(unscoped, [SECRET], now=NOW)) is None


@pytest.mark.parametrize(
    "topics", ["news", [1], ["bad topic"], ["a#b"], ["**"], [None], {"news": 1}, [["news"]]]
)
def test_a_topics_claim_that_is_not_a_list_of_patterns_is_refused(topics):
    with pytest.raises(tokens.TokenError, match="invalid_topics"):
        _verify({"topics": topics})


def test_a_topics_claim_too_large_for_the_authorizer_context_is_refused():
    topics = [f"t{i:03}.{'x' * 20}" for i in range(100)]
    with pytest.raises(tokens.TokenError, match="topics_too_large"):
        _verify({"topics": topics})
    with pytest.raises(ValueError, match="topics_too_large"):
        tokens.issue("u", SECRET, topics=topics)


# The publish claim ----------------------------------------------------------------------


def test_issued_publish_patterns_round_trip_apart_from_topics():
    token = tokens.issue("u", SECRET, now=NOW, topics=["room.*"], publish=["room.1"])
    claims = tokens.verify(token, [SECRET], now=NOW)
    assert tokens.publish_patterns(claims) == ["room.1"]
    assert tokens.topic_patterns(claims) == ["room.*"]
    assert (
        tokens.publish_patterns(
            tokens.verify(tokens.issue("u", SECRET, now=NOW), [SECRET], now=NOW)
        )
        is None
    )


@pytest.mark.parametrize("publish", ["room.1", [1], ["bad topic"], {"room.1": 1}])
def test_a_publish_claim_that_is_not_a_list_of_patterns_is_refused(publish):
    with pytest.raises(tokens.TokenError, match="invalid_publish"):
        _verify({"publish": publish})


def test_a_publish_claim_too_large_for_the_authorizer_context_is_refused():
    publish = [f"t{i:03}.{'x' * 20}" for i in range(100)]
    with pytest.raises(tokens.TokenError, match="publish_too_large"):
        _verify({"publish": publish})
    with pytest.raises(ValueError, match="publish_too_large"):
        tokens.issue("u", SECRET, publish=publish)


# Properties -------------------------------------------------------------------------------

KNOWN_REASONS = {
    "missing",
    "too_large",
    "malformed",
    "bad_algorithm",
    "bad_signature",
    "missing_exp",
    "expired",
    "not_yet_valid",
    "missing_sub",
    "invalid_sub",
    "bad_audience",
    "bad_issuer",
    "invalid_topics",
    "topics_too_large",
    "invalid_publish",
    "publish_too_large",
}


@given(st.text(max_size=300))
def test_arbitrary_strings_are_refused_with_a_known_reason(garbage):
    with pytest.raises(tokens.TokenError) as caught:
        tokens.verify(garbage, [SECRET], now=NOW)
    assert caught.value.reason in KNOWN_REASONS


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(
    claims=st.dictionaries(
        st.sampled_from(["sub", "exp", "nbf", "iat", "aud", "iss", "topics", "other"]),
        json_values,
    )
)
def test_arbitrary_claim_values_yield_claims_or_a_token_error(claims):
    # Given any values under the claim names, correctly signed (floats include nan and inf)
    token = _signed(json.dumps(claims).encode())
    # When verified, with an audience and an issuer configured
    try:
        verified = tokens.verify(token, [SECRET], now=NOW, audience="a", issuer="i")
    except tokens.TokenError as error:
        # Then a refusal names a known reason
        assert error.reason in KNOWN_REASONS
    else:
        # Or the claims are usable: a finite future exp, a valid sub, topics as patterns
        assert verified["exp"] + tokens.DEFAULT_LEEWAY_SECONDS >= NOW
        assert verified["aud"] == "a" or "a" in verified["aud"]
        assert verified["iss"] == "i"
        tokens.topic_patterns(verified)


@given(payload=st.binary(max_size=600))
def test_arbitrary_signed_payload_bytes_yield_claims_or_a_token_error(payload):
    try:
        tokens.verify(_signed(payload), [SECRET], now=NOW)
    except tokens.TokenError as error:
        assert error.reason in KNOWN_REASONS


# Canonical base64url ----------------------------------------------------------------------


def _with_url_safe_characters() -> str:
    """A valid token whose segments hold ``-`` or ``_`` (found by issuing a few)."""
    for issued_at in range(NOW, NOW + 1000):
        token = tokens.issue("user-1", SECRET, ttl_seconds=3600, now=issued_at)
        if "-" in token or "_" in token:
            return token
    raise AssertionError("no token with - or _ in 1000 tries")


def _respell(token: str, index: int, edit) -> str:
    parts = token.split(".")
    parts[index] = edit(parts[index])
    return ".".join(parts)


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s + "==",  # padding
        lambda s: s + "=",
        lambda s: s[:4] + "!!!!" + s[4:],  # characters outside the alphabet, which Python drops
        lambda s: s[:4] + " " + s[4:],
        lambda s: s[:4] + "\u00e9" + s[4:],  # non-ASCII
        lambda s: s.replace("-", "+").replace("_", "/"),  # standard base64's alphabet
    ],
)
def test_only_canonical_base64url_segments_verify(index, edit):
    # Given a valid token / When one of its segments is respelt so Python's decoder still
    # reads the same bytes / Then the token is malformed
    token = _with_url_safe_characters()
    assert tokens.verify(token, [SECRET], now=NOW)["sub"] == "user-1"
    respelt = _respell(token, index, edit)
    if respelt == token:  # this segment has no - or _ to respell
        respelt = _respell(token, index, lambda s: s + "==")
    assert _reason(respelt) == "malformed"


def test_a_signature_with_stray_bits_is_malformed_though_its_bytes_match():
    # Given a signature spelt with a nonzero unused bit: the same 32 bytes to Python
    token = tokens.issue("user-1", SECRET, ttl_seconds=60, now=NOW)
    respelt = _respell(token, 2, stray_bits)
    assert base64.urlsafe_b64decode(respelt.split(".")[2] + "=") == base64.urlsafe_b64decode(
        token.split(".")[2] + "="
    )
    # Then only the canonical spelling verifies
    assert _reason(respelt) == "malformed"


@pytest.mark.parametrize("segment", ["", "A", "AB==", "AB=", "A+B/", "QR", "a b", "\u0661\u0662"])
def test_b64url_decode_refuses_every_non_canonical_spelling(segment):
    with pytest.raises(tokens.TokenError, match="malformed"):
        tokens.b64url_decode(segment)


def test_b64url_decode_reads_every_canonical_spelling():
    for length in range(1, 40):
        data = bytes(range(256))[:length] + b"\xff\xfe"[: length % 3]
        assert tokens.b64url_decode(b64url_encode(data)) == data
