"""The gateway serves what the emulator holds: two-way routes are read back from it."""

import boto3
from moto import mock_aws

from wspush_local.gateway.deployment import read_api


def test_routes_with_a_default_route_response_are_two_way():
    with mock_aws():
        # Given an API with a two-way route, a route with only a selection expression,
        # and a one-way route
        client = boto3.client("apigatewayv2", region_name="us-east-1")
        api_id = client.create_api(
            Name="x", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
        )["ApiId"]
        client.create_stage(ApiId=api_id, StageName="local")
        target = (
            "integrations/"
            + client.create_integration(
                ApiId=api_id,
                IntegrationType="AWS_PROXY",
                IntegrationUri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                "arn:aws:lambda:us-east-1:123456789012:function:wspush-message/invocations",
            )["IntegrationId"]
        )
        ids = {}
        for key, expression in (("ping", "$default"), ("half", "$default"), ("$default", None)):
            extra = {"RouteResponseSelectionExpression": expression} if expression else {}
            ids[key] = client.create_route(ApiId=api_id, RouteKey=key, Target=target, **extra)[
                "RouteId"
            ]
        response_id = client.create_route_response(
            ApiId=api_id, RouteId=ids["ping"], RouteResponseKey="$default"
        )["RouteResponseId"]

        # When the deployment is read back (moto cannot list route responses: by id)
        api = read_api(client, api_id, "local", "us-east-1", "123456789012", {"ping": response_id})

        # Then only the route with both the expression and the response is two-way
        assert api.two_way_routes == frozenset({"ping"})
        assert api.routes == {key: "wspush-message" for key in ids}
