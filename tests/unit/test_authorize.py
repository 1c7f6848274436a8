from tests.oidc_provider import SigningKey, jwks
from wspush.logic import tokens
from wspush.logic.authorize import AuthRequest, authorize, parse_subprotocols
from wspush.logic.jwks import parse_key_set
from wspush.logic.oidc import OidcVerifier, TrustedIssuer

SECRET = b"k"
NOW = 1_800_000_000
TOKEN = tokens.issue("user-1", SECRET, now=NOW)


def _decide(request: AuthRequest, origins=()):
    return authorize(request, lambda: [SECRET], frozenset(origins), now=NOW)


def test_query_string_token_is_allowed():
    decision = _decide(AuthRequest(TOKEN, [], None))
    assert decision.allowed and decision.entity_id == "user-1"


def test_browser_subprotocol_token_is_allowed():
    protocols = parse_subprotocols(f"wspush, {TOKEN}")
    decision = _decide(AuthRequest(None, protocols, "https://app.example.com"))
    assert decision.allowed and decision.entity_id == "user-1"


def test_no_token_is_denied_as_missing():
    decision = _decide(AuthRequest(None, ["wspush"], None))
    assert not decision.allowed and decision.reason == "missing"


def test_origin_outside_the_allow_list_is_denied_before_the_token_is_read():
    loaded = []

    def secrets():
        loaded.append(True)
        return [SECRET]

    decision = authorize(
        AuthRequest(TOKEN, [], "https://evil.example"), secrets, {"https://app.example.com"}
    )
    assert (decision.allowed, decision.reason) == (False, "bad_origin")
    assert loaded == []


def test_origin_inside_the_allow_list_is_allowed():
    decision = _decide(
        AuthRequest(TOKEN, [], "https://app.example.com"), ["https://app.example.com"]
    )
    assert decision.allowed


def test_bad_token_reason_is_reported():
    # Given a canonically spelt signature that is not the token's (32 zero bytes)
    forged = TOKEN.rpartition(".")[0] + "." + tokens.b64url_encode(bytes(32))
    decision = _decide(AuthRequest(forged, [], None))
    assert (decision.allowed, decision.reason) == (False, "bad_signature")


def test_the_topics_claim_reaches_the_context_as_a_json_list():
    # Given a token granting two patterns
    token = tokens.issue("user-1", SECRET, now=NOW, topics=["orders.*", "news"])
    # When authorized
    decision = _decide(AuthRequest(token, [], None))
    # Then the routes get them as one JSON string (the context holds no lists)
    assert decision.topics == ("orders.*", "news")
    assert decision.context() == {"entityId": "user-1", "topics": '["orders.*","news"]'}


def test_a_token_without_topics_passes_no_topics_key():
    decision = _decide(AuthRequest(TOKEN, [], None))
    assert decision.topics is None
    assert decision.context() == {"entityId": "user-1"}


def test_the_publish_claim_reaches_the_context_apart_from_topics():
    token = tokens.issue("user-1", SECRET, now=NOW, topics=["room.*"], publish=["room.1"])
    decision = _decide(AuthRequest(token, [], None))
    assert decision.publish == ("room.1",)
    assert decision.context() == {
        "entityId": "user-1",
        "topics": '["room.*"]',
        "publish": '["room.1"]',
    }
    assert _decide(AuthRequest(TOKEN, [], None)).publish is None


def test_audience_and_issuer_are_enforced_when_configured():
    token = tokens.issue("user-1", SECRET, now=NOW, audience="wspush", issuer="auth")
    request = AuthRequest(token, [], None)
    assert authorize(
        request, lambda: [SECRET], (), now=NOW, audience="wspush", issuer="auth"
    ).allowed
    refused = authorize(request, lambda: [SECRET], (), now=NOW, audience="other", issuer="auth")
    assert (refused.allowed, refused.reason) == (False, "bad_audience")


# --- wspush's own tokens beside an OIDC issuer's ------------------------------------------

OIDC_ISSUER = "https://idp.example"
OIDC_KEY = SigningKey.rsa("idp-key")
STRONG_SECRET = b"s" * 32


def _oidc_verifier():
    issuer = TrustedIssuer(OIDC_ISSUER, audiences=frozenset({"app"}), topics_claim="topics")
    key_set = parse_key_set(jwks(OIDC_KEY))
    return OidcVerifier([issuer], lambda issuer, kid: key_set)


def _oidc_token(**claims):
    return OIDC_KEY.sign(
        {"iss": OIDC_ISSUER, "aud": "app", "sub": "user-1", "exp": NOW + 60, **claims}
    )


def _decide_modes(token, hs256_enabled=True, oidc=True):
    return authorize(
        AuthRequest(token, [], None),
        lambda: [STRONG_SECRET],
        frozenset(),
        now=NOW,
        oidc=_oidc_verifier() if oidc else None,
        hs256_enabled=hs256_enabled,
    )


def test_both_kinds_of_token_give_the_same_context_for_the_same_grants():
    own = _decide_modes(tokens.issue("user-1", STRONG_SECRET, now=NOW, topics=["news", "user:1/*"]))
    provider = _decide_modes(_oidc_token(topics=["news", "user:1/*"]))
    assert own.allowed and provider.allowed
    assert (
        own.context()
        == provider.context()
        == {"entityId": "user-1", "topics": '["news","user:1/*"]'}
    )


def test_a_token_naming_a_trusted_issuer_is_verified_as_its_and_only_so():
    # Signed with wspush's secret but naming the provider: not the provider's signature.
    own_signed = tokens.issue("user-1", STRONG_SECRET, now=NOW, issuer=OIDC_ISSUER)
    assert _decide_modes(own_signed).reason == "missing_kid"


def test_each_mode_can_be_turned_off():
    own = tokens.issue("user-1", STRONG_SECRET, now=NOW)
    assert _decide_modes(own, hs256_enabled=False).reason == "unknown_issuer"
    assert _decide_modes(_oidc_token(), hs256_enabled=False).allowed
    # Without trusted issuers, a provider's token is just a token we did not sign.
    assert _decide_modes(_oidc_token(), oidc=False).reason == "bad_algorithm"
    assert _decide_modes(own, oidc=False).allowed


def test_the_secret_is_not_read_for_a_providers_token():
    loaded = []
    decision = authorize(
        AuthRequest(_oidc_token(), [], None),
        lambda: loaded.append(True) or [STRONG_SECRET],
        frozenset(),
        now=NOW,
        oidc=_oidc_verifier(),
    )
    assert decision.allowed and loaded == []
