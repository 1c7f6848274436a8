"""The publish route as deployed: its JWT authorizer and scopes are read back from the
emulator (by authorizer id: moto answers GetAuthorizer, not GetAuthorizers)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from wspush_local.gateway.deployment import DeploymentError
from wspush_local.gateway.jwt_authorizer import JwtConfiguration
from wspush_local.gateway.publish_api import read_publish_route

FUNCTION_URI = (
    "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
    "arn:aws:lambda:us-east-1:123456789012:function:wspush-local-publish/invocations"
)


def _http_api(client, **route) -> str:
    api_id = client.create_api(Name="publish", ProtocolType="HTTP")["ApiId"]
    integration = client.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationMethod="POST",
        IntegrationUri=FUNCTION_URI,
        PayloadFormatVersion="2.0",
    )["IntegrationId"]
    client.create_route(
        ApiId=api_id, RouteKey="POST /publish", Target=f"integrations/{integration}", **route
    )
    return api_id


def _jwt_route(client, identity_source: str, scopes: list[str]) -> str:
    """An HTTP API whose POST /publish has a JWT authorizer (set on the route afterwards,
    as the authorizer needs the API first)."""
    api_id = _http_api(client)
    authorizer_id = client.create_authorizer(
        ApiId=api_id,
        Name="publish-jwt",
        AuthorizerType="JWT",
        IdentitySource=[identity_source],
        JwtConfiguration={"Issuer": "https://issuer.example", "Audience": ["wspush", "ops"]},
    )["AuthorizerId"]
    (route,) = client.get_routes(ApiId=api_id)["Items"]
    client.update_route(
        ApiId=api_id,
        RouteId=route["RouteId"],
        AuthorizationType="JWT",
        AuthorizerId=authorizer_id,
        AuthorizationScopes=scopes,
    )
    return api_id


def test_a_jwt_route_is_read_with_its_issuer_audience_and_scopes():
    with mock_aws():
        # Given an HTTP API whose POST /publish has a JWT authorizer and two scopes
        client = boto3.client("apigatewayv2", region_name="us-east-1")
        api_id = _jwt_route(client, "$request.header.Authorization", ["publish", "admin"])
        # When the local stack reads the route back
        deployed = read_publish_route(client, api_id, "local")
        # Then it knows what to validate tokens against
        assert deployed.authorization_type == "JWT"
        assert deployed.function_name == "wspush-local-publish"
        assert deployed.jwt == JwtConfiguration(
            "https://issuer.example", ("wspush", "ops"), ("publish", "admin"), "Authorization"
        )


def test_an_iam_route_has_no_jwt_settings():
    with mock_aws():
        client = boto3.client("apigatewayv2", region_name="us-east-1")
        api_id = _http_api(client, AuthorizationType="AWS_IAM")
        deployed = read_publish_route(client, api_id, "local")
        assert deployed.authorization_type == "AWS_IAM" and deployed.jwt is None


def test_an_identity_source_other_than_one_header_is_not_emulated():
    with mock_aws():
        client = boto3.client("apigatewayv2", region_name="us-east-1")
        api_id = _jwt_route(client, "$request.querystring.token", [])
        with pytest.raises(DeploymentError, match="one request header"):
            read_publish_route(client, api_id, "local")
