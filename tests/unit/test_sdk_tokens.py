"""The SDK's mint_token: tokens the authorizer's verify accepts, secrets read from SSM and
Secrets Manager (moto), cached for max_age."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from wspush.logic.tokens import verify
from wspush.sdk import SecretsManagerSecret, SsmParameter, mint_token

KEY = "k" * 32
OLD_KEY = "o" * 32


def test_a_minted_token_is_what_connect_accepts() -> None:
    token = mint_token("alice", topics=["user:alice/*", "news"], ttl=120, secret=KEY)
    claims = verify(token, [KEY.encode()])
    assert claims["sub"] == "alice" and claims["topics"] == ["user:alice/*", "news"]
    assert claims["exp"] - claims["iat"] == 120
    assert "topics" not in verify(mint_token("bob", secret=KEY.encode()), [KEY.encode()])


def test_a_minted_token_may_grant_publishing() -> None:
    token = mint_token("alice", topics=["room.*"], publish=["room.*"], secret=KEY)
    claims = verify(token, [KEY.encode()])
    assert claims["publish"] == ["room.*"] and claims["topics"] == ["room.*"]


def test_audience_and_issuer_are_claims_the_authorizer_checks() -> None:
    token = mint_token("alice", secret=KEY, audience="orders", issuer="https://shop")
    claims = verify(token, [KEY.encode()], audience="orders", issuer="https://shop")
    assert (claims["aud"], claims["iss"]) == ("orders", "https://shop")


def test_the_first_line_of_a_rotating_secret_signs() -> None:
    token = mint_token("alice", secret=f"{KEY}\n{OLD_KEY}\n")
    verify(token, [KEY.encode()])
    with pytest.raises(ValueError, match="bad_signature"):
        verify(token, [OLD_KEY.encode()])


@pytest.mark.parametrize(
    ("entity", "options", "message"),
    [
        ("not valid", {}, "invalid entity id"),
        ("alice", {"topics": ["bad topic"]}, "topics"),
        ("alice", {"ttl": 0}, "ttl must be a positive"),
        ("alice", {"secret": "short"}, "at least 32"),
    ],
)
def test_what_connect_would_refuse_is_refused_here(entity, options, message) -> None:
    with pytest.raises(ValueError, match=message):
        mint_token(entity, **{"secret": KEY, **options})


@mock_aws
def test_the_secret_is_read_from_ssm_and_cached_for_max_age() -> None:
    ssm = boto3.client("ssm", region_name="eu-west-1")
    ssm.put_parameter(Name="/wspush/prod/token-secret", Value=KEY, Type="SecureString")
    cached = SsmParameter("/wspush/prod/token-secret", client=ssm, max_age=300)
    fresh = SsmParameter("/wspush/prod/token-secret", region="eu-west-1", max_age=0)
    first = mint_token("alice", secret=cached)
    verify(first, [KEY.encode()])
    # When the secret rotates, Then a reader within max_age keeps signing with the old key
    ssm.put_parameter(
        Name="/wspush/prod/token-secret",
        Value=f"{OLD_KEY}\n{KEY}",
        Type="SecureString",
        Overwrite=True,
    )
    verify(mint_token("alice", secret=cached), [KEY.encode()])
    verify(mint_token("alice", secret=fresh), [OLD_KEY.encode()])


@mock_aws
def test_the_secret_can_live_in_secrets_manager() -> None:
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    client.create_secret(Name="wspush-token-secret", SecretString=KEY)
    secret = SecretsManagerSecret("wspush-token-secret", region="eu-west-1")
    verify(mint_token("alice", secret=secret), [KEY.encode()])


@mock_aws
def test_a_missing_parameter_is_botocores_error_naming_it() -> None:
    secret = SsmParameter("/wspush/missing", region="eu-west-1")
    with pytest.raises(Exception, match="ParameterNotFound"):
        mint_token("alice", secret=secret)


def test_a_token_may_grant_publishing_and_carry_info() -> None:
    # Given publish patterns and an info object
    token = mint_token(
        "alice", topics=["room.*"], publish=["room.*"], info={"name": "Alice"}, secret=KEY
    )
    # Then the server's verify accepts it, with both claims beside the topics
    claims = verify(token, [KEY.encode()])
    assert claims["publish"] == ["room.*"]
    assert claims["info"] == {"name": "Alice"}
    assert claims["topics"] == ["room.*"] and claims["sub"] == "alice"
    # And a token without them has neither claim
    assert "publish" not in verify(mint_token("bob", secret=KEY), [KEY.encode()])
