"""The local publish API's HTTP API semantics, against a scripted Lambda runtime."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from wspush_local.publish_api import PublishEndpoint, PublishRoute
from wspush_local.runtime import InvocationError
from wspush_local.sigv4 import SigV4Verifier


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


def _endpoint(runtime, authorization: str = "AWS_IAM") -> PublishEndpoint:
    route = PublishRoute("api1", "local", "wspush-local-publish", authorization)
    verifier = SigV4Verifier({"local": "local"}, "us-east-1", "123456789012")
    return PublishEndpoint(route, runtime, verifier, "us-east-1", "123456789012")


async def _post(
    runtime,
    body: bytes,
    path: str = "/local/publish",
    sign: bool = True,
    authorization: str = "AWS_IAM",
    content_type: str = "application/json",
):
    async with TestClient(TestServer(_endpoint(runtime, authorization).app)) as client:
        url = str(client.make_url(path))
        headers = {"content-type": content_type}
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


async def test_a_jwt_route_is_refused_locally():
    status, body, _ = await _post(ScriptedRuntime(), b"{}", sign=False, authorization="JWT")
    assert status == 401 and json.loads(body) == {"message": "Unauthorized"}


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
