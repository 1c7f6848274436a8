from wspush.logic import tokens
from wspush.logic.authorize import AuthRequest, authorize, parse_subprotocols

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


def test_audience_and_issuer_are_enforced_when_configured():
    token = tokens.issue("user-1", SECRET, now=NOW, audience="wspush", issuer="auth")
    request = AuthRequest(token, [], None)
    assert authorize(
        request, lambda: [SECRET], (), now=NOW, audience="wspush", issuer="auth"
    ).allowed
    refused = authorize(request, lambda: [SECRET], (), now=NOW, audience="other", issuer="auth")
    assert (refused.allowed, refused.reason) == (False, "bad_audience")
