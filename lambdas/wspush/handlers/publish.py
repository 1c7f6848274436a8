"""Publish: the HTTP API's ``POST /publish`` (payload format 2.0). Validates one push
request or a batch, then hands each message to the push function."""

from __future__ import annotations

import base64
import binascii
import json
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

from wspush.config import PublishConfig
from wspush.dal.connections_table import ConnectionsTable
from wspush.dal.history_table import HistoryTable
from wspush.dal.push_invoker import PushInvoker, invoke_client_config
from wspush.handlers import initialised
from wspush.handlers._shared import dynamodb_client, session
from wspush.logic import trace
from wspush.logic.publish import MAX_BATCH, publish
from wspush.models.errors import StoreError
from wspush.models.publish import PublishRejected
from wspush.models.push import is_valid_message_id
from wspush.observability import count, logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

config = PublishConfig.from_env()
dynamodb = dynamodb_client()
table = ConnectionsTable(dynamodb, config.table_name)
history = HistoryTable(dynamodb, config.history_table)
invoker = PushInvoker(
    session.client("lambda", config=invoke_client_config(config.sync_wait_seconds)),
    config.push_function_name,
)
executor = ThreadPoolExecutor(max_workers=MAX_BATCH, thread_name_prefix="publish")

initialised()

JSON = {"content-type": "application/json"}


def _json(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": JSON, "body": json.dumps(body)}


def _body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        # A lone surrogate (an event's "\ud800" escape) stays in the bytes, so the strict
        # reader refuses them as not UTF-8 instead of this line raising.
        return str(body).encode("utf-8", errors="surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise PublishRejected(400, "malformed_body", "the body is not valid base64") from None


def _trace(event: dict[str, Any]) -> dict[str, Any]:
    """GET /publish/{id}: the push's trace (``logic.trace``), 404 when none is kept."""
    push_id = (event.get("pathParameters") or {}).get("id")
    if not is_valid_message_id(push_id):
        return _json(
            400, {"error": "invalid_id", "message": "a push id is 1-128 of A-Za-z0-9_.:@+=/-"}
        )
    try:
        record = trace.read(history, str(push_id))
    except StoreError:
        logger.exception("trace read failed")
        return _json(503, {"error": "unavailable", "message": "the trace could not be read"})
    if record is None:
        message = "no trace is kept for this push id (unknown, or past the history window)"
        return _json(404, {"error": "not_found", "id": push_id, "message": message})
    count("PublishTraceRead")
    return _json(200, record)


def _caller(event: dict[str, Any]) -> str:
    """Who called: the IAM principal or the JWT subject (never a credential)."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    iam = authorizer.get("iam") or {}
    claims = (authorizer.get("jwt") or {}).get("claims") or {}
    return str(iam.get("userArn") or claims.get("sub") or "")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(caller=_caller(event))
    if (event.get("requestContext") or {}).get("http", {}).get("method") == "GET":
        return _trace(event)
    try:
        outcome = publish(_body(event), invoker, table, history, executor, config.sync_max_targets)
    except PublishRejected as error:
        count("PublishRejected")
        logger.info("publish refused", extra={"status": error.status, "reason": error.message})
        return _json(error.status, error.as_dict())
    for result in outcome.results:
        count(result.status.metric)
    logger.info(
        "publish handed off",
        extra={"status": outcome.status_code, "results": [r.as_dict() for r in outcome.results]},
    )
    return _json(outcome.status_code, outcome.as_dict())
