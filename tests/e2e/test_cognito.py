"""The Cognito example end to end: its own local stack (examples/cognito), a user created
with the ordinary cognito-idp API of the emulator, connecting with the ID token it gets.

The emulator's Cognito signs every pool's tokens with one and the same key, so a token of
another pool carries a valid signature by a key the trusted pool publishes: only the
issuer check stands between it and a connection."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import boto3
import pytest
import websockets
from joserfc import jwt
from joserfc.jwk import RSAKey
from moto.utilities.utils import load_resource
from websockets.exceptions import InvalidStatus

from tests.e2e.conftest import LocalStack, example_stack

pytestmark = pytest.mark.e2e

PASSWORD = "Correct-horse-42"


@pytest.fixture(scope="module")
def cognito_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with example_stack(tmp_path_factory, "cognito") as local:
        yield local


def _cognito(stack: LocalStack):
    info = json.loads((stack.work_dir / "stack.json").read_text())
    return boto3.client(
        "cognito-idp",
        endpoint_url=info["emulator_url"],
        region_name=stack.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _sign_in(cognito, pool_id: str, client_id: str, email: str, group: str | None) -> dict:
    """What an operator and a user do: admin-create-user, admin-set-user-password,
    admin-add-user-to-group, then admin-initiate-auth (ADMIN_USER_PASSWORD_AUTH)."""
    cognito.admin_create_user(
        UserPoolId=pool_id,
        Username=email,
        UserAttributes=[{"Name": "email", "Value": email}],
        MessageAction="SUPPRESS",
    )
    cognito.admin_set_user_password(
        UserPoolId=pool_id, Username=email, Password=PASSWORD, Permanent=True
    )
    if group:
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName=group)
    result = cognito.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )
    return result["AuthenticationResult"]


def _claims(token: str) -> dict:
    return jwt.decode(token, _emulator_key()).claims


def _emulator_key() -> RSAKey:
    # The emulator's own signing key (what every one of its pools signs with).
    return RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))


async def _refused(url: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(url):
            pass
    return refused.value.response.status_code


def test_a_cognito_user_connects_with_the_id_token_and_gets_pushes(cognito_stack):
    cognito = _cognito(cognito_stack)
    pool_id = cognito_stack.outputs["user_pool_id"]
    client_id = cognito_stack.outputs["user_pool_client_id"]
    tokens = _sign_in(cognito, pool_id, client_id, "ann@example.com", group="staff")
    entity = _claims(tokens["IdToken"])["sub"]
    url = cognito_stack.url

    async def scenario() -> None:
        async with websockets.connect(f"{url}?token={tokens['IdToken']}") as ws:
            # The staff group grants orders.*; nothing grants billing.
            for topic, expected in (("orders.42", "subscribed"), ("billing", "error")):
                await ws.send(json.dumps({"action": "subscribe", "topic": topic}))
                reply = json.loads(await asyncio.wait_for(ws.recv(), 20))
                assert reply["type"] == expected, reply
            for request in ({"entityId": entity}, {"topic": "orders.42"}):
                report = await asyncio.to_thread(
                    cognito_stack.push, {**request, "payload": {"text": "hello ann"}}
                )
                assert report["sent"] == 1, report
                frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
                assert frame["data"] == {"text": "hello ann"}, frame
        # The access token opens a connection too (client_id instead of aud).
        async with websockets.connect(f"{url}?token={tokens['AccessToken']}") as ws:
            await ws.send(json.dumps({"action": "ping"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 20))["type"] == "pong"

    asyncio.run(scenario())


def test_tokens_of_another_pool_expired_or_garbled_are_refused(cognito_stack):
    cognito = _cognito(cognito_stack)
    pool_id = cognito_stack.outputs["user_pool_id"]
    client_id = cognito_stack.outputs["user_pool_client_id"]
    # Another pool of the same emulator: the same signing key, another issuer.
    other_pool = cognito.create_user_pool(PoolName="not-trusted")["UserPool"]["Id"]
    other_client = cognito.create_user_pool_client(
        UserPoolId=other_pool, ClientName="app", ExplicitAuthFlows=["ADMIN_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    stranger = _sign_in(cognito, other_pool, other_client, "eve@example.com", group=None)
    assert _claims(stranger["IdToken"])["iss"].endswith(other_pool)

    trusted = _sign_in(cognito, pool_id, client_id, "bob@example.com", group=None)
    claims = _claims(trusted["IdToken"])
    expired = jwt.encode(
        {"alg": "RS256", "kid": "dummy"},
        {**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600},
        _emulator_key(),
    )
    head, body, signature = trusted["IdToken"].split(".")
    garbled = f"{head}.{body}.{signature[:-8]}AAAAAAAA"
    url = cognito_stack.url

    async def scenario() -> None:
        for token in (stranger["IdToken"], stranger["AccessToken"], expired, garbled, "x.y.z"):
            assert await _refused(f"{url}?token={token}") == 403

    asyncio.run(scenario())
