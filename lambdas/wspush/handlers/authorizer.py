"""REQUEST authorizer for ``$connect``: a valid token yields Allow with the entityId."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

from wspush.config import AuthorizerConfig
from wspush.dal.jwks import JwksCache
from wspush.dal.token_secret import load_token_secrets
from wspush.handlers import initialised
from wspush.handlers._shared import WebSocketEvent
from wspush.logic.authorize import AuthRequest, Decision, authorize, parse_subprotocols
from wspush.logic.oidc import OidcVerifier
from wspush.models.errors import KeysUnavailable, SecretUnavailable
from wspush.observability import count, count_by, logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

config = AuthorizerConfig.from_env()


def _keys_unavailable(issuer: str, error: KeysUnavailable) -> None:
    # The alarm watches this: a provider's keys could not be fetched (kept keys, if any,
    # still verify; without them, its users cannot connect).
    logger.warning("issuer keys unavailable", extra={"issuer": issuer, "error": str(error)})
    count("JwksFetchFailed")


# Kept for the container's life: each issuer's keys are fetched once, not per connection.
oidc = (
    OidcVerifier(config.oidc_issuers, JwksCache(on_fetch_failure=_keys_unavailable).key_set)
    if config.oidc_issuers
    else None
)

initialised()


def _policy(decision: Decision, method_arn: str) -> dict[str, Any]:
    statement = {
        "Action": "execute-api:Invoke",
        "Effect": "Allow" if decision.allowed else "Deny",
        "Resource": method_arn,
    }
    response: dict[str, Any] = {
        "principalId": decision.entity_id or "anonymous",
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
    }
    if decision.allowed:
        response["context"] = decision.context()
    return response


def _secrets() -> list[bytes]:
    return load_token_secrets(config.token_secret_parameter, config.secret_cache_seconds)


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ws_event = WebSocketEvent(event)
    request = AuthRequest(
        query_token=ws_event.query("token"),
        subprotocols=parse_subprotocols(ws_event.header("Sec-WebSocket-Protocol")),
        origin=ws_event.header("Origin"),
    )
    try:
        decision = authorize(
            request,
            _secrets,
            config.allowed_origins,
            audience=config.token_audience,
            issuer=config.token_issuer,
            oidc=oidc,
            hs256_enabled=config.hs256_enabled,
        )
    except SecretUnavailable as error:
        # Failing closed: nobody connects while the secret cannot be read.
        logger.error("token secret unavailable", extra={"error": str(error)})
        decision = Decision(False, "secret_unavailable")
    except KeysUnavailable:
        # Failing closed as well: the provider's users wait for its keys (logged above).
        decision = Decision(False, "jwks_unavailable")
    logger.append_keys(connectionId=ws_event.connection_id, entityId=decision.entity_id)
    if decision.allowed:
        count("ConnectAuthorized")
        logger.info("connect allowed")
    else:
        logger.info("connect denied", extra={"reason": decision.reason})
        count("ConnectDenied")
        count_by("ConnectDeniedByReason", "reason", decision.reason)
    return _policy(decision, event["methodArn"])
