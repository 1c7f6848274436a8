"""``wspush``: run the local stack, mint tokens, push, list connections, show a channel's
history, redrive dead letters.

Every command acts on the running local stack by default, and on the AWS deployment
(read from ``terraform output`` in terraform/, or in examples/EXAMPLE with ``--example``)
with ``--aws``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from wspush.dal.connections_table import ConnectionsTable
from wspush.dal.history_table import HistoryTable
from wspush.dal.push_invoker import invoke_client_config
from wspush.dal.shard_invoker import MAX_FUNCTION_SECONDS
from wspush.logic import envelope, strict_json, trace
from wspush.logic.channels import refuse_oversize
from wspush.logic.envelope import UnsendableMessage
from wspush.logic.tokens import issue, parse_secrets
from wspush.models.connection import Connection
from wspush.models.identifiers import (
    TOPIC_PARTITION_PREFIX,
    is_topic_partition,
    is_valid_entity_id,
    is_valid_topic,
)
from wspush.models.push import InvalidPushRequest, is_valid_message_id, parse_push_request
from wspush.sdk.listener import PublishRefused, say
from wspush.sdk.tokens import mint_token
from wspush_local.cli.listen import ListenOptions, listen
from wspush_local.gateway.jwt_authorizer import JwtConfiguration, LocalIssuer
from wspush_local.gateway.websocket import Limits
from wspush_local.runtime.dlq import list_dead_letters, redrive
from wspush_local.runtime.service import DEFAULT_ACCOUNT_CONCURRENCY
from wspush_local.stack.claim import (
    DEFAULT_EMULATOR_PORT,
    DEFAULT_PORT,
    DEFAULT_PUBLISH_PORT,
    Refused,
    claim,
)
from wspush_local.stack.project import Terraform, TerraformError, example_directory, project_root
from wspush_local.stack.run import (
    DEMO_PUBLIC_TOPICS,
    LOCAL_ACCESS_KEY_ID,
    LOCAL_SECRET_ACCESS_KEY,
    StackOptions,
    read_stack_file,
    run,
)

NOTIFICATION_DETAIL_TYPE = "wspush.notification"
# The sub claim of the publish tokens the CLI mints, and the lifetime of those it sends.
PUBLISH_SUBJECT = "wspush-cli"
PUSH_TOKEN_TTL_SECONDS = 300
LOCAL_PUBLISH_TOKENS_ONLY = (
    "wspush: publish tokens are minted for the local stack only; on AWS, your issuer "
    "(publish_jwt_issuer) signs them"
)


@dataclass(frozen=True)
class Deployment:
    """Where a command acts: the local stack's emulator, or AWS."""

    outputs: dict[str, Any]
    region: str
    websocket_url: str
    publish_url: str
    endpoint_url: str | None = None
    # The local stack's directory, and its publish route's JWT authorizer (JWT mode).
    work_dir: Path | None = None
    publish_jwt: JwtConfiguration | None = None

    def credentials(self) -> Credentials:
        if self.endpoint_url is None:
            credentials: Credentials = boto3.Session().get_credentials()
            return credentials
        return Credentials(LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY)

    def client(self, service: str, config: Config | None = None) -> Any:
        if self.endpoint_url is None:
            return boto3.client(service, region_name=self.region, config=config)
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=LOCAL_ACCESS_KEY_ID,
            aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY,
            config=config,
        )

    def push_function_client(self) -> Any:
        """Invokes the push function: waits longer than any function can run and never
        retries by itself (a retry after a read timeout would push a second time)."""
        return self.client("lambda", invoke_client_config(MAX_FUNCTION_SECONDS + 30))


def _deployment(args: argparse.Namespace) -> Deployment:
    root = project_root()
    if args.aws:
        directory = example_directory(root, args.example) if args.example else None
        terraform = Terraform(root, directory=directory)
        outputs = terraform.outputs()
        if not outputs:
            raise TerraformError(
                f"no outputs in {terraform.directory}: deploy first with `make deploy`"
            )
        return Deployment(
            outputs, outputs["aws_region"], outputs["websocket_url"], outputs["publish_url"]
        )
    # WSPUSH_WORK_DIR serves the make targets (make token, push, listen, connect), which
    # take no --work-dir, against a stack started with one.
    work_dir = Path(args.work_dir or os.environ.get("WSPUSH_WORK_DIR") or root / ".wspush")
    info = read_stack_file(work_dir)
    jwt = (info.get("publish_authorization") or {}).get("jwt")
    return Deployment(
        info["outputs"],
        info["region"],
        info["websocket_url"],
        info["publish_url"],
        info["emulator_url"],
        work_dir,
        JwtConfiguration.from_dict(jwt) if jwt else None,
    )


def _secret(deployment: Deployment) -> bytes:
    parameter = deployment.client("ssm").get_parameter(
        Name=deployment.outputs["token_secret_parameter_name"], WithDecryption=True
    )
    return parse_secrets(parameter["Parameter"]["Value"])[0]


def publish_token(
    deployment: Deployment,
    subject: str,
    scopes: list[str] | None,
    ttl_seconds: int,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    """A token for the local publish route's JWT authorizer, signed by the local issuer
    key; ``scopes`` default to the route's. Refuses an AWS deployment or an IAM route."""
    if deployment.endpoint_url is None or deployment.work_dir is None:
        raise SystemExit(LOCAL_PUBLISH_TOKENS_ONLY)
    if deployment.publish_jwt is None:
        raise SystemExit(
            "wspush: the local publish route authorizes with SigV4 (AWS_IAM), not a JWT: "
            "start the stack with --var publish_jwt_issuer=https://… and "
            "--var 'publish_jwt_audience=[\"…\"]'"
        )
    configuration = deployment.publish_jwt
    return LocalIssuer.load(deployment.work_dir).publish_token(
        configuration,
        subject,
        list(configuration.scopes) if scopes is None else scopes,
        ttl_seconds,
        issuer=issuer,
        audience=audience,
    )


def cmd_token(args: argparse.Namespace) -> int:
    if args.publish:
        if args.aws:
            raise SystemExit(LOCAL_PUBLISH_TOKENS_ONLY)
        if args.topics is not None:
            raise SystemExit("wspush: --topics is a WebSocket token claim, not for --publish")
        print(
            publish_token(
                _deployment(args),
                args.entity or PUBLISH_SUBJECT,
                args.scope,
                args.ttl,
                issuer=args.issuer,
                audience=args.audience,
            )
        )
        return 0
    if args.entity is None:
        raise SystemExit("wspush: token needs --entity (or --publish)")
    if args.scope:
        raise SystemExit("wspush: --scope is for --publish tokens")
    topics = (
        None if args.topics is None else [t.strip() for t in args.topics.split(",") if t.strip()]
    )
    try:
        token = issue(
            args.entity,
            _secret(_deployment(args)),
            ttl_seconds=args.ttl,
            topics=topics,
            audience=args.audience,
            issuer=args.issuer,
        )
    except ValueError as error:
        raise SystemExit(f"wspush: {error}") from None
    print(token)
    return 0


def cmd_listen(args: argparse.Namespace) -> int:
    for topic in args.topic:
        if not is_valid_topic(topic):
            raise SystemExit(f"wspush: invalid topic {topic!r}: 1-128 of letters, digits, _.:/-")
    if not is_valid_entity_id(args.entity):
        raise SystemExit(f"wspush: invalid entity id {args.entity!r}")
    deployment = _deployment(args)
    options = ListenOptions(
        url=deployment.websocket_url,
        topics=tuple(args.topic),
        ping_interval=args.ping_interval,
        max_reconnect_delay=args.max_reconnect_delay,
    )
    # A fresh token for every (re)connect, as the JavaScript client's getToken; it grants
    # exactly the topics asked for.
    return listen(
        options,
        lambda: issue(args.entity, _secret(deployment), ttl_seconds=args.ttl, topics=args.topic),
        sys.stdout,
        sys.stderr,
    )


def cmd_say(args: argparse.Namespace) -> int:
    """Publish one message over the WebSocket, as the entity (a token granting it publish
    on the topic), and print the server's ``{id, seq, topic}``; a refusal is one line on
    stderr and exit code 1."""
    if not is_valid_topic(args.topic):
        raise SystemExit(f"wspush: invalid topic {args.topic!r}: 1-128 of letters, digits, _.:/-")
    if not is_valid_entity_id(args.entity):
        raise SystemExit(f"wspush: invalid entity id {args.entity!r}")
    data: Any = {"text": args.message}
    if args.data is not None:
        try:
            data = json.loads(args.data)
        except json.JSONDecodeError as error:
            raise SystemExit(f"wspush: --data is not JSON: {error}") from None
    deployment = _deployment(args)

    def token() -> str:
        info = {"name": args.name} if args.name else None
        return mint_token(
            args.entity,
            secret=_secret(deployment),
            topics=[],
            publish=[args.topic],
            info=info,
            ttl=PUSH_TOKEN_TTL_SECONDS,
        )

    try:
        published = asyncio.run(
            say(deployment.websocket_url, token, args.topic, data, type=args.type, id=args.id)
        )
    except PublishRefused as refused:
        print(f"wspush say: {refused.code}: {refused.message}", file=sys.stderr)
        return 1
    print(json.dumps({"id": published.id, "seq": published.seq, "topic": published.topic}))
    return 0


def _push_request(args: argparse.Namespace) -> dict[str, Any]:
    try:
        payload = json.loads(args.message)
    except json.JSONDecodeError as error:
        raise SystemExit(f"wspush: --message is not JSON: {error}") from None
    request: dict[str, Any] = {"payload": payload, "type": args.type}
    if args.id:
        request["id"] = args.id
    if args.exclude_connection:
        request["excludeConnectionId"] = args.exclude_connection
    if args.ack:
        request["ack"] = True
    if args.no_fallback:
        request["fallback"] = False
    if args.entity:
        request["entityId"] = args.entity
    elif args.topic:
        request["topic"] = args.topic
    elif args.connection:
        request["connectionId"] = args.connection
    else:
        request["broadcast"] = True
    return request


def publish_over_http(
    url: str, document: Any, credentials: Credentials, region: str, bearer: str | None = None
) -> tuple[int, Any]:
    """POST a push request (or a batch) to /publish, signed with SigV4 for execute-api,
    or with ``Authorization: Bearer <bearer>`` for a JWT route."""
    body = json.dumps(document).encode()
    headers = {"content-type": "application/json"}
    if bearer is not None:
        headers["authorization"] = f"Bearer {bearer}"
    else:
        request = AWSRequest(method="POST", url=url, data=body, headers=headers)
        SigV4Auth(credentials, "execute-api", region).add_auth(request)
        headers = dict(request.prepare().headers.items())
    response = urllib3.request("POST", url, body=body, headers=headers, timeout=60, retries=False)
    try:
        answer = json.loads(response.data or b"null")
    except ValueError:
        answer = {"body": response.data.decode(errors="replace")}
    return response.status, answer


# A push's outcome as the exit code: 0 delivered, no recipients or still running.
FAILED_STATUSES = ("failed", "partial")


def refuse_locally(request: dict[str, Any], push_id: str) -> str | None:
    """Why the push function would refuse ``request`` (so an event carrying it would end
    in the dead-letter queue), or None: the same parser, the same size rule."""
    try:
        strict_json.check(request)
        parsed = parse_push_request(request)
        message = envelope.for_push(parsed, push_id)
        refuse_oversize(message, parsed.audience.describe())
    except (strict_json.InvalidJson, InvalidPushRequest, UnsendableMessage) as error:
        return str(error)
    return None


def cmd_push(args: argparse.Namespace) -> int:
    deployment = _deployment(args)
    request = _push_request(args)
    if args.via_http:
        bearer = None
        if deployment.publish_jwt is not None:
            bearer = publish_token(deployment, PUBLISH_SUBJECT, None, PUSH_TOKEN_TTL_SECONDS)
        status, answer = publish_over_http(
            deployment.publish_url, request, deployment.credentials(), deployment.region, bearer
        )
        print(json.dumps({"httpStatus": status, **(answer if isinstance(answer, dict) else {})}))
        failed = isinstance(answer, dict) and answer.get("status") in FAILED_STATUSES
        return 0 if status < 300 and not failed else 1
    if args.via_events:
        # An EventBridge event id is a UUID: the longest one stands in for it here.
        refusal = refuse_locally(request, args.id or "0" * 36)
        if refusal is not None:
            raise SystemExit(f"wspush: the push function would refuse this push: {refusal}")
        result = deployment.client("events").put_events(
            Entries=[
                {
                    "EventBusName": deployment.outputs["event_bus_name"],
                    "Source": "wspush.cli",
                    "DetailType": NOTIFICATION_DETAIL_TYPE,
                    "Detail": json.dumps(request),
                }
            ]
        )
        (entry,) = result["Entries"]
        event_id = entry.get("EventId")
        answer: dict[str, Any] = {"failedEntryCount": result["FailedEntryCount"]}
        if event_id:
            # Without --id, the push takes the event's id as its own.
            answer.update(eventId=event_id, pushId=args.id or event_id, status="accepted")
        else:
            answer.update(error=entry.get("ErrorCode"), message=entry.get("ErrorMessage"))
        print(json.dumps(answer))
        return 1 if result["FailedEntryCount"] else 0
    response = deployment.push_function_client().invoke(
        FunctionName=deployment.outputs["function_names"]["push"],
        Payload=json.dumps(request).encode(),
    )
    body = json.loads(response["Payload"].read() or b"null")
    print(json.dumps(body))
    failed = isinstance(body, dict) and body.get("status") in FAILED_STATUSES
    return 1 if "FunctionError" in response or failed else 0


def cmd_trace(args: argparse.Namespace) -> int:
    """A push's trace, read from the history table (as GET <publish_url>/<id> answers it)."""
    if not is_valid_message_id(args.id):
        raise SystemExit(f"wspush: invalid push id {args.id!r}: 1-128 of A-Za-z0-9_.:@+=/-")
    deployment = _deployment(args)
    table = HistoryTable(deployment.client("dynamodb"), deployment.outputs["history_table_name"])
    record = trace.read(table, args.id)
    if record is None:
        print(
            f"wspush: no trace kept for push {args.id} (unknown, or past the history window)",
            file=sys.stderr,
        )
        return 1
    print(json.dumps(record, ensure_ascii=False) if args.json else trace.render(record))
    return 0


def connection_record(
    connection: Connection, rows_of_connection: Callable[[str], list[tuple[str, str]]]
) -> dict[str, Any]:
    """A connection in the protocol's names (the table's attributes), with the topics it is
    subscribed to."""
    topics = sorted(
        partition[len(TOPIC_PARTITION_PREFIX) :]
        for partition, _ in rows_of_connection(connection.connection_id)
        if is_topic_partition(partition)
    )
    return {
        "connectionId": connection.connection_id,
        "entityId": connection.entity_id,
        "connectedAt": connection.connected_at,
        "expiresAt": connection.expires_at,
        "sourceIp": connection.source_ip,
        "userAgent": connection.user_agent,
        "topics": topics,
    }


def cmd_connections(args: argparse.Namespace) -> int:
    deployment = _deployment(args)
    table = ConnectionsTable(
        deployment.client("dynamodb"), deployment.outputs["connections_table_name"]
    )
    for connection in table.list_connections(args.entity):
        print(json.dumps(connection_record(connection, table.rows_of_connection)))
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    deployment = _deployment(args)
    table = HistoryTable(deployment.client("dynamodb"), deployment.outputs["history_table_name"])
    if args.entity:
        channel = f"entity:{args.entity}"
    elif args.topic:
        channel = f"topic:{args.topic}"
    elif args.connection:
        channel = f"connection:{args.connection}"
    else:
        channel = "broadcast"
    position = table.position(channel)
    if position is None:
        print(f"wspush: {channel} has no history", file=sys.stderr)
        return 0
    now = int(time.time())
    entries = table.entries(channel, position.epoch, args.since, args.limit, now)
    oldest = table.oldest(channel, position.epoch, now)
    print(
        f"{channel}: epoch {position.epoch}, latest {position.seq}, oldest kept {oldest}",
        file=sys.stderr,
    )
    for entry in entries:
        print(entry.body)
    return 0


def cmd_dlq(args: argparse.Namespace) -> int:
    deployment = _deployment(args)
    sqs = deployment.client("sqs")
    queue_url = deployment.outputs["dead_letter_queue_url"]
    if args.action == "list":
        for letter in list_dead_letters(sqs, queue_url, args.limit):
            print(json.dumps(letter.describe()))
        return 0
    lambda_client = deployment.push_function_client()
    function = deployment.outputs["function_names"]["push"]

    def redeliver(event: Any) -> str | None:
        response = lambda_client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        result = response["Payload"].read().decode()
        return result if "FunctionError" in response else None

    report = redrive(sqs, queue_url, redeliver, args.limit)
    print(json.dumps(report.as_dict()))
    return 1 if report.failed else 0


def cmd_url(args: argparse.Namespace) -> int:
    deployment = _deployment(args)
    print(deployment.publish_url if args.publish else deployment.websocket_url)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    if args.check_only:
        work_dir = Path(args.work_dir) if args.work_dir else project_root() / ".wspush"
        try:
            claim(
                work_dir, args.port, args.emulator_port, args.publish_port, record=False
            ).release()
        except Refused as refusal:
            print(f"wspush: {refusal}", file=sys.stderr)
            return 1
        return 0
    options = StackOptions(
        port=args.port,
        emulator_port=args.emulator_port,
        publish_port=args.publish_port,
        stage=args.stage,
        schedule_scale=args.schedule_scale,
        schedule_expression=args.schedule,
        limits=Limits(
            idle_timeout_seconds=args.idle_timeout, max_lifetime_seconds=args.max_lifetime
        ),
        work_dir=Path(args.work_dir) if args.work_dir else None,
        destroy_on_exit=args.destroy_on_exit,
        variables=dict(_variable(v) for v in args.var),
        example=args.example,
        public_topics=tuple(t.strip() for t in args.public_topics.split(",") if t.strip()),
        account_concurrency=args.account_concurrency,
        snapshot_dir=Path(args.snapshot_dir) if args.snapshot_dir else None,
        fresh=args.fresh,
        reload=not args.no_reload,
    )
    return run(options)


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _variable(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise SystemExit(f"wspush: --var takes NAME=VALUE, got {text!r}")
    return name.strip(), value


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="wspush", description=__doc__)
    sub = main.add_subparsers(dest="command", required=True)

    def target_options(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--aws", action="store_true", help="act on the AWS deployment (terraform outputs)"
        )
        command.add_argument(
            "--work-dir",
            help="the local stack's directory (default $WSPUSH_WORK_DIR, else .wspush)",
        )
        command.add_argument(
            "--example", help="with --aws: read examples/EXAMPLE's outputs instead of terraform/'s"
        )

    run_cmd = sub.add_parser("run", help="run the whole stack locally")
    run_cmd.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"gateway port, WebSocket API and demo page (default {DEFAULT_PORT}; 0: any free)",
    )
    run_cmd.add_argument(
        "--emulator-port",
        type=int,
        default=DEFAULT_EMULATOR_PORT,
        help=f"AWS emulator port (default {DEFAULT_EMULATOR_PORT}; 0: any free port)",
    )
    run_cmd.add_argument(
        "--publish-port",
        type=int,
        default=DEFAULT_PUBLISH_PORT,
        help="port of the publish API, POST /<stage>/publish "
        f"(default {DEFAULT_PUBLISH_PORT}; 0: any free port)",
    )
    run_cmd.add_argument(
        "--check-only",
        action="store_true",
        help="check that every port is free and no stack runs from the work directory, "
        "then exit (0: it would start)",
    )
    run_cmd.add_argument("--stage", default="local", help="stage name (default local)")
    run_cmd.add_argument(
        "--schedule-scale",
        type=float,
        default=1.0,
        help="speed of the schedule clock: 0.1 fires rate(1 minute) every 6 s (default 1)",
    )
    run_cmd.add_argument(
        "--schedule", help="override the schedule expression, e.g. 'rate(5 minutes)'"
    )
    run_cmd.add_argument(
        "--idle-timeout", type=float, default=600, help="idle timeout in seconds (API Gateway: 600)"
    )
    run_cmd.add_argument(
        "--max-lifetime",
        type=float,
        default=7200,
        help="connection lifetime in seconds (API Gateway: 7200)",
    )
    run_cmd.add_argument(
        "--work-dir", help="where state and unpacked functions live (default .wspush)"
    )
    run_cmd.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Terraform variable for the local deployment, e.g. push_shard_size=50 (repeatable)",
    )
    run_cmd.add_argument(
        "--snapshot-dir",
        help="where the last apply's emulator and Terraform state are kept "
        "(default WORK_DIR/snapshots)",
    )
    run_cmd.add_argument(
        "--fresh",
        action="store_true",
        help="apply the Terraform to an empty emulator even when a snapshot matches",
    )
    run_cmd.add_argument(
        "--no-reload",
        action="store_true",
        help="do not watch the function sources (by default a change rebuilds and reloads)",
    )
    run_cmd.add_argument(
        "--destroy-on-exit",
        action="store_true",
        help="terraform destroy against the emulator on exit",
    )
    run_cmd.add_argument(
        "--example",
        help="apply examples/EXAMPLE (with its local.tfvars) instead of terraform/, "
        "e.g. order_status",
    )
    run_cmd.add_argument(
        "--public-topics",
        default=",".join(DEMO_PUBLIC_TOPICS),
        help="topic patterns any connection may subscribe to, comma-separated "
        f"(default {','.join(DEMO_PUBLIC_TOPICS)}; '' for none)",
    )
    run_cmd.add_argument(
        "--account-concurrency",
        type=_at_least_one,
        default=DEFAULT_ACCOUNT_CONCURRENCY,
        metavar="N",
        help="invocations the emulated account runs at once; a synchronous invoke over it is "
        f"throttled (TooManyRequestsException), as on AWS (default {DEFAULT_ACCOUNT_CONCURRENCY}; "
        "a new AWS account may have 10)",
    )
    run_cmd.set_defaults(handler=cmd_run)

    token = sub.add_parser(
        "token", help="print a token for an entity (or, with --publish, for POST /publish)"
    )
    token.add_argument(
        "--entity", help=f"the sub claim (required, except with --publish: {PUBLISH_SUBJECT})"
    )
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    token.add_argument(
        "--publish",
        action="store_true",
        help="a JWT for the local publish route's JWT authorizer, signed by the local "
        "issuer key (RS256, its issuer and first audience)",
    )
    token.add_argument(
        "--scope",
        action="append",
        help="with --publish: a scope of the token (repeatable; default: the route's scopes)",
    )
    token.add_argument(
        "--topics",
        help="topic patterns the token grants, comma-separated: 'orders.*,news' "
        "(default: no topics claim, so only the deployment's public topics)",
    )
    token.add_argument(
        "--audience",
        help="the aud claim (when the deployment sets token_audience; with --publish, "
        "instead of the authorizer's)",
    )
    token.add_argument(
        "--issuer",
        help="the iss claim (when the deployment sets token_issuer; with --publish, "
        "instead of the authorizer's)",
    )
    target_options(token)
    token.set_defaults(handler=cmd_token)

    push = sub.add_parser("push", help="push a message")
    audience = push.add_mutually_exclusive_group(required=True)
    audience.add_argument("--entity")
    audience.add_argument("--topic")
    audience.add_argument("--connection")
    audience.add_argument("--broadcast", action="store_true")
    push.add_argument("--message", required=True, help="the payload, as JSON")
    push.add_argument(
        "--type", default="notification", help="the envelope type (default notification)"
    )
    push.add_argument(
        "--id",
        help="idempotency key: the envelope id of every copy (default: the event or request id)",
    )
    push.add_argument(
        "--exclude-connection", help="a connection that must not receive it (the sender)"
    )
    push.add_argument(
        "--ack",
        action="store_true",
        help="ask for receipts (--entity or --connection): wspush.push.unacknowledged if "
        "no connection acknowledges in time",
    )
    push.add_argument(
        "--no-fallback",
        action="store_true",
        help="no wspush.push.undelivered event when nobody is connected",
    )
    via = push.add_mutually_exclusive_group()
    via.add_argument(
        "--via-events",
        action="store_true",
        help="put a wspush.notification event on the bus instead of invoking",
    )
    via.add_argument(
        "--via-http",
        action="store_true",
        help="POST it to the publish API, signed with SigV4 (execute-api), or with a "
        "minted bearer token when the local route has a JWT authorizer",
    )
    target_options(push)
    push.set_defaults(handler=cmd_push)

    trace_cmd = sub.add_parser(
        "trace", help="show what happened to one push: its status, audience and connections"
    )
    trace_cmd.add_argument("id", help="the push id (the envelope id; --id of wspush push)")
    trace_cmd.add_argument("--json", action="store_true", help="print the record as JSON")
    target_options(trace_cmd)
    trace_cmd.set_defaults(handler=cmd_trace)

    listen_cmd = sub.add_parser(
        "listen", help="print every push an entity receives, one JSON line each, until Ctrl-C"
    )
    listen_cmd.add_argument("--entity", required=True)
    listen_cmd.add_argument(
        "--topic", action="append", default=[], help="also subscribe to a topic (repeatable)"
    )
    listen_cmd.add_argument(
        "--ttl", type=int, default=3600, help="lifetime of each token in seconds (default 3600)"
    )
    listen_cmd.add_argument(
        "--ping-interval",
        type=float,
        default=300,
        help="ping after this many quiet seconds (default 300; API Gateway idles out at 600)",
    )
    listen_cmd.add_argument(
        "--max-reconnect-delay",
        type=float,
        default=30,
        help="cap of the reconnect backoff in seconds (default 30)",
    )
    target_options(listen_cmd)
    listen_cmd.set_defaults(handler=cmd_listen)

    say_cmd = sub.add_parser(
        "say",
        help="publish a message to a topic over the WebSocket, as an entity; prints {id, seq}",
    )
    say_cmd.add_argument("--entity", required=True, help="who says it (its from.entityId)")
    say_cmd.add_argument("--topic", required=True)
    say_cmd.add_argument("--message", required=True, help='the text: the data is {"text": MESSAGE}')
    say_cmd.add_argument("--data", help='the data as JSON instead of {"text": MESSAGE}')
    say_cmd.add_argument("--type", help="the envelope type (default: the server's, message)")
    say_cmd.add_argument("--id", help="the message id (default: a random UUID)")
    say_cmd.add_argument("--name", help='the token\'s info claim: {"name": NAME}')
    target_options(say_cmd)
    say_cmd.set_defaults(handler=cmd_say)

    connections = sub.add_parser("connections", help="list live connections")
    connections.add_argument("--entity")
    target_options(connections)
    connections.set_defaults(handler=cmd_connections)

    history = sub.add_parser(
        "history", help="show a channel's kept pushes, oldest first (one envelope a line)"
    )
    channel = history.add_mutually_exclusive_group(required=True)
    channel.add_argument("--entity")
    channel.add_argument("--topic")
    channel.add_argument("--connection")
    channel.add_argument("--broadcast", action="store_true")
    history.add_argument(
        "--since", type=int, default=0, help="only pushes numbered above this (default 0)"
    )
    history.add_argument(
        "--limit", type=int, default=100, help="at most this many pushes (default 100)"
    )
    target_options(history)
    history.set_defaults(handler=cmd_history)

    dlq = sub.add_parser("dlq", help="list or redrive the push dead-letter queue")
    dlq.add_argument("action", choices=["list", "redrive"])
    dlq.add_argument(
        "--limit", type=int, default=100, help="at most this many messages (default 100)"
    )
    target_options(dlq)
    dlq.set_defaults(handler=cmd_dlq)

    url = sub.add_parser("url", help="print the WebSocket URL (or the publish URL)")
    url.add_argument("--publish", action="store_true", help="print the POST /publish URL")
    target_options(url)
    url.set_defaults(handler=cmd_url)
    return main


def _stdout_closed() -> int:
    """The reader of stdout went away (``wspush push | head -c0``): nothing more to say, so
    end quietly, with nothing left to flush into the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.handler(args)
        sys.stdout.flush()
    except BrokenPipeError:
        return _stdout_closed()
    except (FileNotFoundError, TerraformError) as error:
        print(f"wspush: {error}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
