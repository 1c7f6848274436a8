"""The authorizer function with a trusted OIDC issuer whose JWKS a local server publishes."""

import importlib
import json
import os
import time

import pytest

from tests.conftest import load_event
from tests.integration.conftest import SECRET
from tests.integration.test_metrics import _metrics, _named
from tests.oidc_provider import SigningKey, jwks, serve_jwks
from wspush.logic import tokens

KEY = SigningKey.rsa("provider-key")


@pytest.fixture
def provider(handlers):
    """The authorizer re-imported to trust the provider; re-imported as it was after."""
    with serve_jwks(jwks(KEY)) as server:
        issuers = [
            {
                "issuer": server.url,
                "audiences": ["app"],
                "jwks_uri": server.jwks_uri,
                "group_topics": {"claim": "groups", "patterns": {"staff": ["orders.*"]}},
            }
        ]
        os.environ["OIDC_ISSUERS"] = json.dumps(issuers)
        try:
            importlib.reload(handlers["authorizer"])
            yield server
        finally:
            del os.environ["OIDC_ISSUERS"]
            importlib.reload(handlers["authorizer"])


def _event(token):
    event = load_event("authorizer_connect")
    event["queryStringParameters"] = {"token": token}
    return event


def _token(server, **claims):
    now = int(time.time())
    return KEY.sign(
        {"iss": server.url, "aud": "app", "sub": "user-7", "iat": now, "exp": now + 300, **claims}
    )


def test_a_providers_token_opens_a_connection_with_the_same_context(
    aws, handlers, context, provider
):
    response = handlers["authorizer"].handler(_event(_token(provider, groups=["staff"])), context)
    assert response["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert response["context"] == {"entityId": "user-7", "topics": '["orders.*"]'}
    # wspush's own tokens still open connections beside it.
    own = tokens.issue("user-8", SECRET.encode())
    response = handlers["authorizer"].handler(_event(own), context)
    assert response["context"] == {"entityId": "user-8"}


def test_an_unreachable_provider_denies_counts_and_never_raises(
    aws, handlers, context, provider, capsys
):
    provider.status = 503
    capsys.readouterr()
    response = handlers["authorizer"].handler(_event(_token(provider)), context)
    assert response["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    found = _metrics(capsys.readouterr().out)
    assert [entry[1] for entry in _named(found, "JwksFetchFailed")] == [1]
    (by_reason,) = _named(found, "ConnectDeniedByReason")
    assert by_reason[3]["reason"] == "jwks_unavailable"
