"""Read what Terraform deployed to the emulator: the WebSocket API and its functions.

The gateway serves exactly this: the routes, route selection expression, integrations,
the $connect authorizer and stage as API Gateway stored them, and each function's handler,
environment, timeout, event invoke config and recursion config as Lambda stored them. The
code is the built zip whose sha256 is the function's CodeSha256, so what runs is provably
what was deployed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wspush_local.runtime.service import AsyncConfig, FunctionSpec, function_name_of

_INTEGRATION_FUNCTION = re.compile(r"functions/(arn:[^/]+)/invocations")


class DeploymentError(RuntimeError):
    """The emulator does not hold a deployment the gateway can serve."""


@dataclass(frozen=True)
class Authorizer:
    function_name: str
    identity_sources: tuple[str, ...]


@dataclass(frozen=True)
class ApiDeployment:
    api_id: str
    stage: str
    region: str
    account_id: str
    route_selection_expression: str
    routes: dict[str, str]  # route key -> function name
    authorizer: Authorizer | None
    # Routes with a route response: the integration's returned body goes to the client.
    two_way_routes: frozenset[str] = frozenset()

    def method_arn(self, route_key: str) -> str:
        prefix = f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}"
        return f"{prefix}/{self.stage}/{route_key}"


def _function_of_uri(uri: str) -> str:
    match = _INTEGRATION_FUNCTION.search(uri)
    return function_name_of(match.group(1) if match else uri)


def read_api(
    apigateway: Any,
    api_id: str,
    stage: str,
    region: str,
    account_id: str,
    route_response_ids: dict[str, str] | None = None,
) -> ApiDeployment:
    """``route_response_ids`` (route key -> id, a Terraform output) lets the route
    responses be read one by id: moto has no GetRouteResponses (the list call)."""
    api = apigateway.get_api(ApiId=api_id)
    if api.get("ProtocolType") != "WEBSOCKET":
        raise DeploymentError(f"API {api_id} is not a WebSocket API")
    stages = {s["StageName"] for s in apigateway.get_stages(ApiId=api_id)["Items"]}
    if stage not in stages:
        raise DeploymentError(f"API {api_id} has no stage {stage!r} (has {sorted(stages)})")
    integrations = {
        i["IntegrationId"]: _function_of_uri(i["IntegrationUri"])
        for i in apigateway.get_integrations(ApiId=api_id)["Items"]
    }
    routes: dict[str, str] = {}
    two_way: set[str] = set()
    authorizer: Authorizer | None = None
    for route in apigateway.get_routes(ApiId=api_id)["Items"]:
        target = route.get("Target", "")
        integration_id = target.removeprefix("integrations/")
        if integration_id not in integrations:
            raise DeploymentError(f"route {route['RouteKey']} has no integration")
        routes[route["RouteKey"]] = integrations[integration_id]
        if _has_route_response(apigateway, api_id, route, route_response_ids):
            two_way.add(route["RouteKey"])
        if route["RouteKey"] == "$connect" and route.get("AuthorizationType") == "CUSTOM":
            # One by id: moto's GetAuthorizers (the list call) fails.
            stored = apigateway.get_authorizer(ApiId=api_id, AuthorizerId=route["AuthorizerId"])
            authorizer = Authorizer(
                function_name=_function_of_uri(stored["AuthorizerUri"]),
                identity_sources=tuple(stored.get("IdentitySource") or ()),
            )
    return ApiDeployment(
        api_id=api_id,
        stage=stage,
        region=region,
        account_id=account_id,
        route_selection_expression=api["RouteSelectionExpression"],
        routes=routes,
        authorizer=authorizer,
        two_way_routes=frozenset(two_way),
    )


def _has_route_response(
    apigateway: Any, api_id: str, route: dict[str, Any], response_ids: dict[str, str] | None
) -> bool:
    """Two-way communication, as API Gateway decides it: the route has a route response
    selection expression and a ``$default`` route response (the only key WebSocket APIs
    allow). With ``response_ids`` given, they are the route responses there are."""
    if not route.get("RouteResponseSelectionExpression"):
        return False
    if response_ids is None:
        listed = apigateway.get_route_responses(ApiId=api_id, RouteId=route["RouteId"])
        responses = listed["Items"]
    elif route["RouteKey"] in response_ids:
        responses = [
            apigateway.get_route_response(
                ApiId=api_id,
                RouteId=route["RouteId"],
                RouteResponseId=response_ids[route["RouteKey"]],
            )
        ]
    else:
        return False
    return any(r.get("RouteResponseKey") == "$default" for r in responses)


def read_async_config(lambda_client: Any, name: str) -> AsyncConfig:
    """The function's event invoke config as Lambda stored it; Lambda's defaults (two
    retries, no destination) when it has none."""
    try:
        config = lambda_client.get_function_event_invoke_config(FunctionName=name)
    except lambda_client.exceptions.ResourceNotFoundException:
        return AsyncConfig()
    destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    return AsyncConfig(
        retry_attempts=int(config.get("MaximumRetryAttempts", 2)),
        on_failure_destination=destination or None,
        max_event_age_seconds=int(config.get("MaximumEventAgeInSeconds", 21600)),
    )


def read_recursive_loop(lambda_client: Any, name: str) -> str:
    """The function's recursive loop detection setting (``Terminate`` unless set), as the
    emulator stores it (``lambda_account``)."""
    return str(lambda_client.get_function_recursion_config(FunctionName=name)["RecursiveLoop"])


def read_functions(lambda_client: Any, names: list[str], dist: Path) -> list[FunctionSpec]:
    manifest = json.loads((dist / "manifest.json").read_text())
    specs = []
    for name in names:
        configuration = lambda_client.get_function(FunctionName=name)["Configuration"]
        # Zips of the same content share a hash; prefer the one named for the function.
        candidates = sorted(
            (not name.endswith(f"-{function}"), entry["zip"])
            for function, entry in manifest.items()
            if entry["code_sha256"] == configuration["CodeSha256"]
        )
        package = dist / candidates[0][1] if candidates else None
        if package is None:
            raise DeploymentError(
                f"the code deployed as {name} is not a zip in {dist}: "
                "rebuild (make build) and restart"
            )
        specs.append(
            FunctionSpec(
                name=name,
                handler=configuration["Handler"],
                package=package,
                environment=configuration.get("Environment", {}).get("Variables", {}),
                timeout_seconds=int(configuration.get("Timeout", 3)),
                memory_mb=int(configuration.get("MemorySize", 128)),
                async_config=read_async_config(lambda_client, name),
                recursive_loop=read_recursive_loop(lambda_client, name),
            )
        )
    return specs
