"""The local publish API's HTTP API semantics, against a scripted Lambda runtime."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from wspush_local.gateway.deployment import DeploymentError
from wspush_local.gateway.jwt_authorizer import JwtAuthorizer, JwtConfiguration, LocalIssuer
from wspush_local.gateway.publish_api import PublishEndpoint, PublishRoute
from wspush_local.gateway.sigv4 import SigV4Verifier
from wspush_local.runtime.service import InvocationError


class ScriptedRuntime:
    def __init__(self, answer: Any = None, error: InvocationError | None = None) -> None:
        self.answer = answer or {
            "statusCode": 202,
            "headers": {"content-type": "application/json"},
            "body": json.dumps({"id": "m-1", "status": "accepted"}),
        }
        self.error = error
        self.events: list[dict[str, Any]] = []

    async def invoke(self, name: str, event: dict[str, Any]) -> Any:
        assert name == "wspush-local-publish"
        self.events.append(event)
        if self.error:
            raise self.error
        return self.answer


def _endpoint(
    runtime, authorization: str = "AWS_IAM", jwt: JwtAuthorizer | None = None
) -> PublishEndpoint:
    configuration = jwt.configuration if jwt else None
    route = PublishRoute("api1", "local", "wspush-local-publish", authorization, configuration)
    verifier = SigV4Verifier({"local": "local"}, "us-east-1", "123456789012")
    return PublishEndpoint(route, runtime, verifier, "us-east-1", "123456789012", jwt)


async def _post(
    runtime,
    body: bytes,
    path: str = "/local/publish",
    sign: bool = True,
    authorization: str = "AWS_IAM",
    content_type: str = "application/json",
    jwt: JwtAuthorizer | None = None,
    bearer: str | None = None,
):
    async with TestClient(TestServer(_endpoint(runtime, authorization, jwt).app)) as client:
        url = str(client.make_url(path))
        headers = {"content-type": content_type}
        if bearer is not None:
            headers["authorization"] = f"Bearer {bearer}"
        if sign:
            request = AWSRequest(method="POST", url=url, data=body, headers=headers)
            SigV4Auth(Credentials("local", "local"), "execute-api", "us-east-1").add_auth(request)
            headers = dict(request.prepare().headers.items())
        response = await client.post(path, data=body, headers=headers)
        return response.status, await response.read(), response.headers


async def test_a_signed_post_reaches_the_function_as_a_payload_2_0_event():
    runtime = ScriptedRuntime()
    status, body, headers = await _post(runtime, b'{"broadcast": true, "payload": 1}')
    assert status == 202 and json.loads(body) == {"id": "m-1", "status": "accepted"}
    assert headers["content-type"] == "application/json"
    (event,) = runtime.events
    assert event["version"] == "2.0" and event["routeKey"] == "POST /publish"
    assert event["body"] == '{"broadcast": true, "payload": 1}' and not event["isBase64Encoded"]
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["authorizer"]["iam"]["accessKey"] == "local"
    assert event["requestContext"]["stage"] == "local"
    assert "authorization" in event["headers"]


async def test_a_binary_body_is_base64_encoded_as_api_gateway_does():
    runtime = ScriptedRuntime()
    await _post(runtime, b"\x00\x01", content_type="application/octet-stream")
    (event,) = runtime.events
    assert event["isBase64Encoded"] and base64.b64decode(event["body"]) == b"\x00\x01"


async def test_an_unsigned_request_never_reaches_the_function():
    runtime = ScriptedRuntime()
    status, body, headers = await _post(runtime, b"{}", sign=False)
    assert status == 403 and json.loads(body) == {"message": "Missing Authentication Token"}
    assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert runtime.events == []


async def test_a_route_without_authorization_takes_unsigned_requests():
    runtime = ScriptedRuntime()
    status, _, _ = await _post(runtime, b"{}", sign=False, authorization="NONE")
    assert status == 202 and "authorizer" not in runtime.events[0]["requestContext"]


ISSUER = "https://issuer.example"


@pytest.fixture(scope="module")
def issuer(tmp_path_factory) -> LocalIssuer:
    return LocalIssuer.load_or_create(tmp_path_factory.mktemp("issuer"))


def _jwt(issuer: LocalIssuer, scopes: tuple[str, ...] = ()) -> JwtAuthorizer:
    configuration = JwtConfiguration(ISSUER, ("wspush",), scopes)
    return JwtAuthorizer(configuration, issuer.public_key, issuer.kid)


async def _post_jwt(runtime, issuer, token: str | None, scopes: tuple[str, ...] = ()):
    jwt = _jwt(issuer, scopes)
    return await _post(runtime, b"{}", sign=False, authorization="JWT", jwt=jwt, bearer=token)


async def test_a_valid_jwt_reaches_the_function_with_its_claims(issuer):
    # Given a token from the local issuer for the route's issuer and audience
    runtime = ScriptedRuntime()
    token = issuer.publish_token(_jwt(issuer).configuration, "backend-1", [], 60)
    # When it is sent as a bearer token
    status, _, _ = await _post_jwt(runtime, issuer, token)
    # Then the function runs, and its event names the caller by the token's claims
    assert status == 202
    authorizer = runtime.events[0]["requestContext"]["authorizer"]
    assert authorizer["jwt"]["claims"]["sub"] == "backend-1"
    assert authorizer["jwt"]["claims"]["iss"] == ISSUER
    assert authorizer["jwt"]["scopes"] is None and "iam" not in authorizer


@pytest.mark.parametrize("token", [None, "not-a-jwt"])
async def test_a_jwt_route_refuses_a_missing_or_bad_token_with_a_401(issuer, token):
    runtime = ScriptedRuntime()
    status, body, headers = await _post_jwt(runtime, issuer, token)
    assert status == 401 and json.loads(body) == {"message": "Unauthorized"}
    assert headers["www-authenticate"].startswith('Bearer scope=""')
    assert runtime.events == []


async def test_a_sigv4_signature_does_not_open_a_jwt_route(issuer):
    runtime = ScriptedRuntime()
    jwt = _jwt(issuer)
    status, _, _ = await _post(runtime, b"{}", authorization="JWT", jwt=jwt)
    assert status == 401 and runtime.events == []


async def test_a_jwt_without_the_route_scopes_is_a_403(issuer):
    runtime = ScriptedRuntime()
    configuration = _jwt(issuer, ("publish",)).configuration
    token = issuer.publish_token(configuration, "backend-1", ["read"], 60)
    status, body, headers = await _post_jwt(runtime, issuer, token, ("publish",))
    assert status == 403 and json.loads(body) == {"message": "Forbidden"}
    assert 'error="insufficient_scope"' in headers["www-authenticate"]
    assert runtime.events == []


async def test_a_jwt_with_a_route_scope_passes_and_the_event_lists_its_scopes(issuer):
    runtime = ScriptedRuntime()
    configuration = _jwt(issuer, ("publish",)).configuration
    token = issuer.publish_token(configuration, "backend-1", ["read", "publish"], 60)
    status, _, _ = await _post_jwt(runtime, issuer, token, ("publish",))
    assert status == 202
    assert runtime.events[0]["requestContext"]["authorizer"]["jwt"]["scopes"] == [
        "read",
        "publish",
    ]


def test_a_jwt_route_needs_an_authorizer():
    with pytest.raises(DeploymentError):
        _endpoint(ScriptedRuntime(), "JWT")


@pytest.mark.parametrize("path", ["/local/other", "/prod/publish", "/"])
async def test_other_paths_are_404(path):
    status, body, _ = await _post(ScriptedRuntime(), b"{}", path=path)
    assert status == 404 and json.loads(body) == {"message": "Not Found"}


async def test_a_body_over_10_mb_is_413_before_the_function():
    runtime = ScriptedRuntime()
    status, _, _ = await _post(runtime, b" " * (10 * 1024 * 1024 + 1), sign=False)
    assert status == 413 and runtime.events == []


async def test_a_failing_function_is_a_500():
    runtime = ScriptedRuntime(error=InvocationError("Runtime.ExitError", "boom"))
    status, body, _ = await _post(runtime, b"{}")
    assert status == 500 and json.loads(body) == {"message": "Internal Server Error"}


@pytest.mark.parametrize("raw_signature", [b"00", b"\xc3\xa9" * 32, b"\xff\xfe", b"abc\x80"])
async def test_a_signature_of_raw_non_ascii_bytes_is_a_403(raw_signature):
    # Given a signed request whose Signature field is non-ASCII bytes (UTF-8 or not), sent
    # raw (an HTTP client library would refuse to send them)
    runtime = ScriptedRuntime()
    async with TestClient(TestServer(_endpoint(runtime).app)) as client:
        url = str(client.make_url("/local/publish"))
        request = AWSRequest(method="POST", url=url, data=b"{}", headers={})
        SigV4Auth(Credentials("local", "local"), "execute-api", "us-east-1").add_auth(request)
        signed = dict(request.prepare().headers.items())
        authorization = signed.pop("Authorization")
        signed.pop("Content-Length")
        cut = authorization.index("Signature=") + len("Signature=")
        head = "".join(f"{name}: {value}\r\n" for name, value in signed.items())
        raw = (
            (
                f"POST /local/publish HTTP/1.1\r\nHost: {client.host}:{client.port}\r\n{head}"
                f"Content-Length: 2\r\nConnection: close\r\nAuthorization: {authorization[:cut]}"
            ).encode()
            + raw_signature
            + b"\r\n\r\n{}"
        )
        reader, writer = await asyncio.open_connection(client.host, client.port)
        writer.write(raw)
        await writer.drain()
        status_line = await reader.readline()
        writer.close()
    # Then API Gateway's answer: 403, and the function never ran
    assert status_line.split()[1] == b"403"
    assert runtime.events == []
