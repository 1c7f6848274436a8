import copy
import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import load_event
from tests.crafted import HS256_HEADER, signed_token
from tests.hostile import hostile_bytes
from tests.integration.conftest import SECRET, TABLE, rows
from wspush.logic import tokens


def _authorizer_event(token=None, protocol_header=None, origin=None):
    event = load_event("authorizer_connect")
    if token is None:
        # A URL with no query string: API Gateway leaves the keys out entirely.
        del event["queryStringParameters"], event["multiValueQueryStringParameters"]
    else:
        event["queryStringParameters"] = {"token": token}
        event["multiValueQueryStringParameters"] = {"token": [token]}
    if protocol_header:
        event["headers"]["Sec-WebSocket-Protocol"] = protocol_header
    if origin:
        event["headers"]["Origin"] = origin
    return event


def _effect(response):
    return response["policyDocument"]["Statement"][0]["Effect"]


def test_authorizer_allows_a_valid_token_with_the_entity_in_the_context(aws, handlers, context):
    # Given a token signed with the secret stored in SSM
    token = tokens.issue("user-1", SECRET.encode())
    # When the authorizer sees it in the query string
    response = handlers["authorizer"].handler(_authorizer_event(token), context)
    # Then it allows exactly the $connect method ARN and names the entity
    statement = response["policyDocument"]["Statement"][0]
    assert statement == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        "Resource": "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/$connect",
    }
    assert response["context"] == {"entityId": "user-1"}
    assert response["principalId"] == "user-1"


def test_authorizer_accepts_the_token_as_a_browser_subprotocol(aws, handlers, context):
    token = tokens.issue("user-2", SECRET.encode())
    event = _authorizer_event(protocol_header=f"wspush, {token}")
    response = handlers["authorizer"].handler(event, context)
    assert _effect(response) == "Allow" and response["context"]["entityId"] == "user-2"


def test_authorizer_denies_without_a_token_and_logs_no_secret(aws, handlers, context, capsys):
    response = handlers["authorizer"].handler(_authorizer_event(), context)
    assert _effect(response) == "Deny" and "context" not in response
    assert SECRET not in capsys.readouterr().out


def test_authorizer_denies_expired_and_forged_tokens_without_logging_them(
    aws, handlers, context, capsys
):
    expired = tokens.issue("user-1", SECRET.encode(), ttl_seconds=1, now=1_000_000)
    forged = tokens.issue("user-1", b"not-the-secret")
    for token in (expired, forged, "garbage", "a.b.c"):
        assert _effect(handlers["authorizer"].handler(_authorizer_event(token), context)) == "Deny"
    logged = capsys.readouterr().out
    assert expired not in logged and forged not in logged and SECRET not in logged


def test_the_topics_claim_reaches_the_routes_as_a_json_string(aws, handlers, context):
    token = tokens.issue("user-1", SECRET.encode(), topics=["orders.*", "user:user-1/*"])
    response = handlers["authorizer"].handler(_authorizer_event(token), context)
    assert response["context"] == {"entityId": "user-1", "topics": '["orders.*","user:user-1/*"]'}


def _signed(payload: bytes) -> str:
    return signed_token(payload, SECRET.encode())


@pytest.mark.parametrize(
    "token",
    [
        "x" * 10_000,
        _signed(b'{"sub":"user-1","exp":NaN}'),
        _signed(b'{"sub":"user-1","exp":Infinity}'),
        _signed(b'{"sub":"user-1","exp":1e999}'),
        _signed(b'{"sub":"user-1","exp":' + b"9" * 2000 + b"}"),
        _signed(b'{"sub":"user-1","exp":9999999999,"x":' + b"[" * 1400 + b"]" * 1400 + b"}"),
        _signed(b'{"sub":"user-1","exp":9999999999,"topics":"news"}'),
        _signed(json.dumps({"sub": "u", "exp": 9999999999, "topics": ["t"] * 600}).encode()),
    ],
    ids=["huge", "nan", "infinity", "1e999", "long-int", "deep", "topics-type", "topics-size"],
)
def test_crafted_tokens_are_denied_never_raised(aws, handlers, context, token):
    # A raise would be a 500 from API Gateway (and page on-call); a Deny is a 403
    response = handlers["authorizer"].handler(_authorizer_event(token), context)
    assert _effect(response) == "Deny" and "context" not in response


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(token=st.text(min_size=1, max_size=5000))
def test_any_token_string_gets_a_policy(aws, handlers, context, token):
    response = handlers["authorizer"].handler(_authorizer_event(token), context)
    assert _effect(response) == "Deny"


def _hostile_token(header: bytes, claims: bytes, respell: bool) -> str:
    """A token correctly signed with the secret around hostile header and claims bytes,
    its signature sometimes respelt (padding, standard base64)."""
    token = signed_token(claims, SECRET.encode(), header)
    if respell:
        token = token.replace("-", "+").replace("_", "/") + "=="
    return token


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@example(
    header=HS256_HEADER,
    claims=b'{"sub":"victor","sub":"mallory","exp":9999999999}',
    respell=False,
    in_protocol=False,
)
@example(
    header=HS256_HEADER,
    claims=b'{"sub":"u","exp":9999999999,"x":' + b"[" * 986 + b"]" * 986 + b"}",
    respell=False,
    in_protocol=True,
)
@given(
    header=st.one_of(st.just(HS256_HEADER), hostile_bytes),
    claims=hostile_bytes,
    respell=st.booleans(),
    in_protocol=st.booleans(),
)
def test_any_signed_token_gets_a_policy_and_a_malformed_one_is_denied(
    aws, handlers, context, header, claims, respell, in_protocol
):
    # Given a token signed with the secret around any header and claims (duplicate keys,
    # deep nesting, huge numbers, lone surrogates, any bytes), in the query string or as a
    # subprotocol / Then the authorizer answers a policy, never raises
    token = _hostile_token(header, claims, respell)
    if in_protocol:
        event = _authorizer_event(protocol_header=f"wspush, {token}")
    else:
        event = _authorizer_event(token)
    response = handlers["authorizer"].handler(event, context)
    assert _effect(response) in {"Allow", "Deny"}
    if respell or b"mallory" in claims or b"[" * 65 in claims:
        assert _effect(response) == "Deny"


def test_connect_stores_the_connection_under_the_authorized_entity(aws, handlers, context):
    # Given a $connect event whose URL had no query string at all
    event = load_event("connect")
    assert "queryStringParameters" not in event
    # When the connect handler runs
    response = handlers["connect"].handler(event, context)
    # Then the row exists with its TTL, source IP and user agent
    assert response["statusCode"] == 200
    item = aws["dynamodb"].get_item(
        TableName=TABLE,
        Key={"entityId": {"S": "user-1"}, "connectionId": {"S": "Tq7QmcfmIAMCJBA="}},
    )["Item"]
    connected_at = int(item["connectedAt"]["N"])
    assert int(item["expiresAt"]["N"]) - connected_at == 2 * 3600 + 600
    assert item["sourceIp"]["S"] == "203.0.113.7"
    assert item["userAgent"]["S"] == "wscat"


# Arbitrary header text: any code point, lone surrogates (what a JSON event can carry for
# bytes that are not UTF-8) included, and lengths past what a row keeps.
_any_text = st.text(st.characters(codec=None), max_size=700) | st.binary(max_size=700).map(
    lambda raw: raw.decode("utf-8", "surrogateescape")
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    user_agent=_any_text,
    source_ip=_any_text,
    headers=st.dictionaries(st.text(min_size=1, max_size=20), _any_text, max_size=4),
)
def test_any_client_headers_are_stored_as_bounded_text(
    aws, handlers, context, user_agent, source_ip, headers
):
    # Given a $connect event whose headers and identity hold arbitrary text
    event = load_event("connect")
    event["headers"] = {**event["headers"], **headers}
    event["requestContext"]["identity"] = {"userAgent": user_agent, "sourceIp": source_ip}
    # When the connect handler runs, then the connection is stored: never an exception
    assert handlers["connect"].handler(event, context)["statusCode"] == 200
    item = aws["dynamodb"].get_item(
        TableName=TABLE,
        Key={"entityId": {"S": "user-1"}, "connectionId": {"S": "Tq7QmcfmIAMCJBA="}},
    )["Item"]
    # And what it keeps is printable text, at most 512 (user agent) and 64 (IP) characters
    stored_agent = item.get("userAgent", {}).get("S", "")
    stored_ip = item.get("sourceIp", {}).get("S", "")
    assert len(stored_agent) <= 512 and len(stored_ip) <= 64
    assert stored_agent.isprintable() and stored_ip.isprintable()
    stored_agent.encode("utf-8")


def test_a_user_agent_that_is_not_utf8_is_stored_with_replacement_characters(
    aws, handlers, context
):
    event = load_event("connect")
    event["requestContext"]["identity"]["userAgent"] = "bot\udcff\x00/1" + "x" * 600
    assert handlers["connect"].handler(event, context)["statusCode"] == 200
    item = aws["dynamodb"].get_item(
        TableName=TABLE,
        Key={"entityId": {"S": "user-1"}, "connectionId": {"S": "Tq7QmcfmIAMCJBA="}},
    )["Item"]
    assert item["userAgent"]["S"] == "bot?\ufffd/1" + "x" * 505


def test_connect_echoes_the_wspush_subprotocol_to_browsers(aws, handlers, context):
    event = load_event("connect")
    event["headers"]["Sec-WebSocket-Protocol"] = "wspush, eyJ.token.x"
    response = handlers["connect"].handler(event, context)
    assert response["headers"] == {"Sec-WebSocket-Protocol": "wspush"}


def test_connect_without_an_entity_is_refused_and_writes_nothing(aws, handlers, context):
    event = load_event("connect")
    del event["requestContext"]["authorizer"]
    event["queryStringParameters"] = {"entityId": "demo"}  # ignored: auth is on
    assert handlers["connect"].handler(event, context)["statusCode"] == 400
    assert rows(aws["dynamodb"]) == set()


def test_disconnect_deletes_the_connection_and_its_subscriptions_only(aws, handlers, context):
    # Given two connections, one of them subscribed to a topic
    handlers["connect"].handler(load_event("connect"), context)
    other = load_event("connect")
    other["requestContext"]["connectionId"] = "Other000000000="
    handlers["connect"].handler(other, context)
    subscribe = load_event("message")
    subscribe["body"] = '{"action":"subscribe","topic":"news"}'
    handlers["message"].handler(subscribe, context)
    assert len(rows(aws["dynamodb"])) == 3
    # When the first disconnects
    response = handlers["disconnect"].handler(load_event("disconnect"), context)
    # Then only the other connection's row is left
    assert response["statusCode"] == 200
    assert rows(aws["dynamodb"]) == {("user-1", "Other000000000=")}


def test_disconnect_is_idempotent(aws, handlers, context):
    event = load_event("disconnect")
    del event["requestContext"]["authorizer"]
    assert handlers["disconnect"].handler(event, context)["statusCode"] == 200
    assert handlers["disconnect"].handler(copy.deepcopy(event), context)["statusCode"] == 200
