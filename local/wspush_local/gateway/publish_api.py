"""The publish HTTP API, served locally: ``POST /<stage>/publish`` on its own port.

It reads the route Terraform deployed to the emulator (route key, authorization type,
integration) and mirrors an API Gateway HTTP API in front of a Lambda proxy integration
(payload format 2.0): SigV4 verification for ``AWS_IAM`` routes (service ``execute-api``,
against the local stack's credentials), the JWT authorizer for ``JWT`` routes (against the
local issuer's key, ``jwt_authorizer``), 404 for any other method or path, 413 over
10 MB, the function's ``statusCode``/``headers``/``body`` as the response, and 500 when
the function fails.
"""

from __future__ import annotations

import base64
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from wspush_local.gateway.deployment import DeploymentError
from wspush_local.gateway.deployment import _function_of_uri as function_of_integration_uri
from wspush_local.gateway.jwt_authorizer import (
    JwtAuthorizer,
    JwtConfiguration,
    JwtRejected,
    read_jwt_configuration,
)
from wspush_local.gateway.sigv4 import Caller, SignatureRejected, SigV4Verifier
from wspush_local.runtime.service import InvocationError, LocalLambda

log = logging.getLogger("wspush.publish")
ROUTE_KEY = "POST /publish"
# HTTP APIs refuse payloads over 10 MB.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


@dataclass(frozen=True)
class PublishRoute:
    api_id: str
    stage: str
    function_name: str
    authorization_type: str
    # The JWT authorizer's issuer and audience and the route's scopes, for a JWT route.
    jwt: JwtConfiguration | None = None


AUTHORIZATION_TYPES = ("NONE", "AWS_IAM", "JWT")


def read_publish_route(apigateway: Any, api_id: str, stage: str) -> PublishRoute:
    """``POST /publish`` as deployed: moto answers the list calls for routes and
    integrations of an HTTP API, and GetAuthorizer by id (not GetAuthorizers)."""
    api = apigateway.get_api(ApiId=api_id)
    if api.get("ProtocolType") != "HTTP":
        raise DeploymentError(f"API {api_id} is not an HTTP API")
    routes = [r for r in apigateway.get_routes(ApiId=api_id)["Items"] if r["RouteKey"] == ROUTE_KEY]
    if not routes:
        raise DeploymentError(f"API {api_id} has no {ROUTE_KEY} route")
    route = routes[0]
    integration_id = route.get("Target", "").removeprefix("integrations/")
    integration = apigateway.get_integration(ApiId=api_id, IntegrationId=integration_id)
    if integration.get("PayloadFormatVersion") != "2.0":
        raise DeploymentError(f"{ROUTE_KEY} must use payload format 2.0")
    authorization_type = route.get("AuthorizationType", "NONE")
    if authorization_type not in AUTHORIZATION_TYPES:
        raise DeploymentError(f"{ROUTE_KEY}: authorization {authorization_type} is not emulated")
    jwt = None
    if authorization_type == "JWT":
        try:
            jwt = read_jwt_configuration(
                apigateway, api_id, route["AuthorizerId"], route.get("AuthorizationScopes") or []
            )
        except (KeyError, ValueError) as error:
            raise DeploymentError(f"{ROUTE_KEY}: {error}") from None
    return PublishRoute(
        api_id=api_id,
        stage=stage,
        function_name=function_of_integration_uri(integration["IntegrationUri"]),
        authorization_type=authorization_type,
        jwt=jwt,
    )


def _error(
    status: int, message: str, error_type: str | None = None, challenge: str | None = None
) -> web.Response:
    headers = {"x-amzn-ErrorType": error_type} if error_type else {}
    if challenge is not None:
        headers["www-authenticate"] = challenge
    return web.json_response({"message": message}, status=status, headers=headers)


def _iam_authorizer(caller: Caller) -> dict[str, Any]:
    return {
        "iam": {
            "accessKey": caller.access_key,
            "accountId": caller.account_id,
            "callerId": caller.access_key,
            "principalOrgId": None,
            "userArn": caller.user_arn,
            "userId": caller.access_key,
        }
    }


def _is_text(content_type: str) -> bool:
    return content_type.lower().startswith(_TEXT_TYPES)


class PublishEndpoint:
    def __init__(
        self,
        route: PublishRoute,
        runtime: LocalLambda,
        verifier: SigV4Verifier,
        region: str,
        account_id: str,
        jwt_authorizer: JwtAuthorizer | None = None,
    ) -> None:
        if route.authorization_type == "JWT" and jwt_authorizer is None:
            raise DeploymentError(f"{ROUTE_KEY} is a JWT route: it needs a JWT authorizer")
        self.route = route
        self._runtime = runtime
        self._verifier = verifier
        self._jwt_authorizer = jwt_authorizer
        self._region = region
        self._account_id = account_id
        self.app = web.Application(client_max_size=MAX_PAYLOAD_BYTES + 1)
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.method != "POST" or request.path != f"/{self.route.stage}/publish":
            return _error(404, "Not Found")
        if (request.content_length or 0) > MAX_PAYLOAD_BYTES:
            return _error(413, "Request Entity Too Large")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _error(413, "Request Entity Too Large")
        authorizer: dict[str, Any] | None = None
        if self.route.authorization_type == "AWS_IAM":
            try:
                caller = self._verifier.verify(
                    request.method, str(request.url), list(request.headers.items()), body
                )
            except SignatureRejected as refused:
                log.info("publish refused: %s", refused.message)
                return _error(refused.status, refused.message, refused.error_type)
            authorizer = _iam_authorizer(caller)
        elif self._jwt_authorizer is not None:
            try:
                authorizer = self._jwt_authorizer.authorize(request.headers)
            except JwtRejected as refused:
                log.info("publish refused: %s", refused.challenge)
                return _error(refused.status, refused.message, challenge=refused.challenge)
        event = self._event(request, body, authorizer)
        try:
            result = await self._runtime.invoke(self.route.function_name, event)
        except InvocationError as error:
            log.warning("publish function failed: %s", error)
            return _error(500, "Internal Server Error")
        return self._response(result)

    def _event(
        self, request: web.Request, body: bytes, authorizer: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The payload format 2.0 event API Gateway sends a Lambda proxy integration."""
        now = time.time()
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        text = _is_text(request.headers.get("Content-Type", "application/json"))
        try:
            encoded = body.decode("utf-8") if text else None
        except UnicodeDecodeError:
            encoded = None
        context: dict[str, Any] = {
            "accountId": self._account_id,
            "apiId": self.route.api_id,
            "domainName": request.host,
            "domainPrefix": request.host.split(".")[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
                "sourceIp": request.remote or "",
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": ROUTE_KEY,
            "stage": self.route.stage,
            "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        }
        if authorizer is not None:
            context["authorizer"] = authorizer
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": ROUTE_KEY,
            "rawPath": request.path,
            "rawQueryString": request.query_string,
            "headers": headers,
            "requestContext": context,
            "isBase64Encoded": encoded is None,
        }
        if body:
            event["body"] = encoded if encoded is not None else base64.b64encode(body).decode()
        if request.query_string:
            event["queryStringParameters"] = dict(request.query)
        return event

    @staticmethod
    def _response(result: Any) -> web.Response:
        """Payload format 2.0: a dict with statusCode is the response; anything else is JSON."""
        if not isinstance(result, dict) or "statusCode" not in result:
            return web.json_response(result)
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        return web.Response(status=int(result["statusCode"]), body=raw, headers=headers)
