"""``wspush run``: the whole stack in one process.

1. an embedded moto server (Lambda invokes and EventBridge deliveries routed to 2.),
2. the same root Terraform applied to it, or the last apply's snapshot restored when
   nothing the apply reads changed (``stack.deploy``),
3. a Lambda runtime running each function from its built zip,
4. the WebSocket gateway serving the deployed API, and the scheduler firing the rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import shutil
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from aiohttp import web

from wspush_local import emulator as emulator_package
from wspush_local.emulator.event_sources import SqsEventSources
from wspush_local.emulator.scheduler import QueueSender, RuleTargets, Scheduler
from wspush_local.emulator.server import Emulator
from wspush_local.gateway.demo import CHAT_ROOMS, Demo, stack_backend
from wspush_local.gateway.deployment import read_api, read_functions
from wspush_local.gateway.jwt_authorizer import JwtAuthorizer, LocalIssuer
from wspush_local.gateway.publish_api import PublishEndpoint, PublishRoute, read_publish_route
from wspush_local.gateway.sigv4 import SigV4Verifier
from wspush_local.gateway.websocket import Gateway, Limits
from wspush_local.runtime.service import (
    DEFAULT_ACCOUNT_CONCURRENCY,
    FunctionSpec,
    LocalLambda,
    environment_for_workers,
    function_name_of,
)
from wspush_local.stack.artifacts import StagedPackage
from wspush_local.stack.claim import (
    DEFAULT_EMULATOR_PORT,
    DEFAULT_PORT,
    DEFAULT_PUBLISH_PORT,
    Claim,
    Ports,
    Refused,
    claim,
)
from wspush_local.stack.deploy import Deployment, apply_inputs, deploy
from wspush_local.stack.project import Terraform, example_directory, project_root
from wspush_local.stack.reload import Watcher
from wspush_local.stack.snapshot import Snapshots

# A Lambda function ARN (optionally qualified), as a function's environment may name one.
LAMBDA_FUNCTION_ARN = re.compile(
    r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?"
)

log = logging.getLogger("wspush.stack")
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
STACK_FILE = "stack.json"
# The demo deployment's public topics: any connection may subscribe to these; a token's
# topics claim grants the rest (``wspush token --topics``).
DEMO_PUBLIC_TOPICS = ("news", "demo.*")
# The only credentials the local stack knows: the wspush CLI and the functions use them,
# and the publish API accepts SigV4 signatures made with them and nothing else.
LOCAL_ACCESS_KEY_ID = "local"
LOCAL_SECRET_ACCESS_KEY = "local"  # noqa: S105 (the emulator's fixed dummy key)


@dataclass(frozen=True)
class StackOptions:
    # 0: any free port (the stack advertises the one it got).
    port: int = DEFAULT_PORT
    emulator_port: int = DEFAULT_EMULATOR_PORT
    publish_port: int = DEFAULT_PUBLISH_PORT
    stage: str = "local"
    schedule_scale: float = 1.0
    schedule_expression: str | None = None
    limits: Limits = field(default_factory=Limits)
    work_dir: Path | None = None
    destroy_on_exit: bool = False
    # More root Terraform variables, e.g. {"push_shard_size": "50"}.
    variables: dict[str, str] = field(default_factory=dict)
    # Apply examples/<example> (with its local.tfvars) instead of the root configuration.
    example: str | None = None
    public_topics: tuple[str, ...] = DEMO_PUBLIC_TOPICS
    # Invocations the emulated account runs at once (Lambda's account concurrency).
    account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY
    # Where the last apply's snapshots are kept (work_dir/snapshots unless set), and
    # whether to ignore them and apply from scratch.
    snapshot_dir: Path | None = None
    fresh: bool = False
    # Watch the function sources: a change rebuilds the zips and reloads the functions.
    reload: bool = True


def clients_for(emulator_url: str) -> dict[str, Any]:
    session = boto3.Session(
        aws_access_key_id=LOCAL_ACCESS_KEY_ID,
        aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY,
        region_name=REGION,
    )
    return {
        name: session.client(name, endpoint_url=emulator_url)
        for name in ("apigatewayv2", "lambda", "events", "sqs", "ssm", "dynamodb", "s3")
    }


def _self_invoking_slots(environment: dict[str, str]) -> int | None:
    """The push function waits on its shard invocations: room for a coordinator, all its
    shards, and one more push starting meanwhile."""
    parallelism = environment.get("PUSH_SHARD_PARALLELISM")
    return int(parallelism) + 2 if parallelism else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def read_stack_file(work_dir: Path) -> dict[str, Any]:
    path = work_dir / STACK_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"no local stack is running ({path} not found): start it with `make run`"
        )
    info: dict[str, Any] = json.loads(path.read_text())
    return info


def invoked_functions(specs: list[FunctionSpec], known: list[str]) -> list[str]:
    """The functions ``specs`` name by ARN in their environment, beyond the ``known`` ones."""
    named = {
        function_name_of(value)
        for spec in specs
        for value in spec.environment.values()
        if LAMBDA_FUNCTION_ARN.fullmatch(value)
    }
    return sorted(named - set(known))


def gateway_for_deployment(
    outputs: dict[str, Any],
    clients: dict[str, Any],
    runtime: LocalLambda,
    dist: Path,
    connections_url: str,
    limits: Limits,
) -> Gateway:
    """A gateway for what Terraform deployed to the emulator: the API's routes and stage,
    and each function registered from its zip, re-pointed at ``connections_url``."""
    stage = connections_url.rstrip("/").rsplit("/", 1)[-1]
    if "route_response_ids" not in outputs:
        # moto cannot list route responses: without this output the gateway cannot tell
        # two-way routes, and no route's reply reaches its client.
        log.warning(
            "the configuration has no route_response_ids output (module.wspush.route_response_ids):"
            " replies to ping, subscribe and the other message routes are not sent"
        )
    api = read_api(
        clients["apigatewayv2"],
        outputs["api_id"],
        stage,
        REGION,
        ACCOUNT_ID,
        route_response_ids=outputs.get("route_response_ids") or {},
    )
    # Every function the outputs name, every function a route runs, and every function
    # one of those is configured to invoke (a Lambda function ARN in its environment, such
    # as the message function's CLIENT_PUBLISH_HOOK_ARN).
    names = sorted({*outputs["function_names"].values(), *api.routes.values()})
    specs = read_functions(clients["lambda"], names, dist)
    specs += read_functions(clients["lambda"], invoked_functions(specs, names), dist)
    for spec in specs:
        if "CONNECTIONS_ENDPOINT" in spec.environment:
            spec.environment["CONNECTIONS_ENDPOINT"] = connections_url
        runtime.register(spec, _self_invoking_slots(spec.environment))
    return Gateway(api, runtime, limits)


async def serve_app(app: web.Application, port: int | socket.socket) -> web.AppRunner:
    """Serve ``app`` on 127.0.0.1:``port``, or on a socket already bound; the caller cleans
    up the runner."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    if isinstance(port, socket.socket):
        await web.SockSite(runner, port).start()
    else:
        await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


class Stack:
    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.root = project_root()
        self.work_dir = options.work_dir or self.root / ".wspush"
        self.terraform_variables: dict[str, str] = {}
        # The functions' zip as the root configuration's lambda_package, when it is.
        self.staged_package: StagedPackage | None = None

    def _terraform(self) -> Terraform:
        directory: Path | None = None
        var_file: Path | None = None
        if self.options.example:
            directory = example_directory(self.root, self.options.example)
            local_settings = directory / "local.tfvars"
            var_file = local_settings if local_settings.is_file() else None
        return Terraform(
            self.root,
            data_dir=self.work_dir / "terraform-data",
            state=self.work_dir / "terraform.tfstate",
            environment={
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_REGION": REGION,
            },
            directory=directory,
            var_file=var_file,
        )

    def _variables(self, emulator_url: str) -> dict[str, str]:
        options = self.options
        variables = {
            "emulator_endpoint": emulator_url,
            "stage_name": options.stage,
            "manage_api_gateway_account": "true",
            "deletion_protection": "false",
            # moto has no saved Logs Insights queries; the log shows the counters.
            "monitoring_enabled": "false",
            "public_topic_patterns": json.dumps(list(options.public_topics)),
        }
        if not options.example:
            # The demo's point: scheduled pushes reach every connection (a deployment
            # turns them on itself, once it has priced them).
            variables["schedule_enabled"] = "true"
            # The demo's chat rooms announce who comes and goes.
            variables["presence_topic_patterns"] = json.dumps([CHAT_ROOMS])
        if options.schedule_expression:
            variables["schedule_expression"] = options.schedule_expression
        variables.update(options.variables)
        package = self.root / "dist" / "wspush.zip"
        if not options.example and "lambda_package" not in variables and package.is_file():
            # From S3 the provider creates the functions together; from a path, one at a
            # time, 5 s each (stack.artifacts). Without a build the module says what to do.
            self.staged_package = StagedPackage.of(package)
            variables["lambda_package"] = self.staged_package.variable()
        return variables

    def _deploy(self, terraform: Terraform, s3: Any) -> Deployment:
        inputs = apply_inputs(
            self.root, terraform, self.terraform_variables, Path(emulator_package.__file__).parent
        )
        snapshots = Snapshots(self.options.snapshot_dir or self.work_dir / "snapshots")
        slot = f"example-{self.options.example}" if self.options.example else "root"
        staged = self.staged_package
        return deploy(
            terraform,
            self.terraform_variables,
            inputs,
            snapshots,
            slot,
            use_snapshot=not self.options.fresh,
            before_apply=(lambda: staged.upload(s3)) if staged is not None else None,
        )

    def _watcher(self, terraform: Terraform, runtime: LocalLambda, lambda_client: Any) -> Watcher:
        """Reload on save: the function sources (lambdas/ and the examples' functions) are
        rebuilt into dist/ and reloaded; a change to the configuration is reported."""

        async def record(reloaded: dict[str, Path]) -> None:
            # The emulator's record of each function's code follows what runs, as an
            # UpdateFunctionCode would (the next start applies it through Terraform).
            for name, package in reloaded.items():
                try:
                    await asyncio.to_thread(
                        lambda_client.update_function_code,
                        FunctionName=name,
                        ZipFile=package.read_bytes(),
                    )
                except Exception as error:  # the reload stands; only the record lags
                    log.warning("the emulator's record of %s keeps its old code: %s", name, error)

        configuration = [self.root / "terraform", terraform.directory]
        if terraform.var_file is not None:
            configuration.append(terraform.var_file)
        return Watcher(
            runtime,
            sources=[self.root / "lambdas", *sorted(self.root.glob("examples/*/lambdas"))],
            configuration=sorted(set(configuration)),
            build_command=["env", f"PYTHON={sys.executable}", str(self.root / "build.sh")],
            root=self.root,
            on_reload=record,
        )

    def claim(self) -> Claim:
        """The work directory and every port, before anything slow (``claim``)."""
        options = self.options
        return claim(self.work_dir, options.port, options.emulator_port, options.publish_port)

    async def serve(self, ports: Ports) -> None:
        """Run the stack on ``ports`` until stopped; the caller holds the work directory."""
        options = self.options
        (self.work_dir / STACK_FILE).unlink(missing_ok=True)
        loop = asyncio.get_running_loop()

        emulator_port = ports.number(ports.emulator)
        emulator_url = f"http://127.0.0.1:{emulator_port}"
        clients = clients_for(emulator_url)
        dead_letter = QueueSender(clients["sqs"])
        runtime = LocalLambda(
            self.work_dir / "functions",
            environment_for_workers(emulator_url, REGION),
            dead_letter=dead_letter,
            account_concurrency=options.account_concurrency,
        )
        runtime.loop = loop
        targets = RuleTargets(runtime, dead_letter)
        emulator: Emulator | None = None
        runner: web.AppRunner | None = None
        publish_runner: web.AppRunner | None = None
        gateway: Gateway | None = None
        scheduler_task: asyncio.Task[None] | None = None
        watcher_task: asyncio.Task[None] | None = None
        event_sources_task: asyncio.Task[None] | None = None
        try:
            # 1. The emulator, with Lambda and EventBridge delivery wired to the runtime.
            emulator = Emulator(runtime, targets.deliver, emulator_port, sock=ports.emulator)
            emulator.start()

            # 2. The same Terraform: the last apply's snapshot when nothing it reads
            # changed, an apply otherwise (stack.deploy).
            terraform = self._terraform()
            self.terraform_variables = self._variables(emulator_url)
            deployment = await asyncio.to_thread(self._deploy, terraform, clients["s3"])
            outputs = deployment.outputs
            log.info("deployment %s in %.1f s", deployment.how, deployment.seconds)

            # 3. Functions from their zips, re-pointed at the local endpoints.
            gateway_port = ports.number(ports.gateway)
            gateway_base = f"http://127.0.0.1:{gateway_port}"
            connections_url = f"{gateway_base}/{options.stage}"
            gateway = gateway_for_deployment(
                outputs, clients, runtime, self.root / "dist", connections_url, options.limits
            )

            # 4. Gateway (with the demo page), publish API and scheduler.
            websocket_url = f"ws://127.0.0.1:{gateway_port}/{options.stage}"
            Demo(
                self.root,
                stack_backend(
                    clients,
                    outputs,
                    runtime,
                    websocket_url,
                    connections_url,
                    options.public_topics,
                ),
            ).add_routes(gateway.app)
            runner = await serve_app(gateway.app, ports.gateway)
            publish_runner, publish_url, publish_route = await self._serve_publish_api(
                clients["apigatewayv2"], outputs["publish_api_id"], runtime, ports.publish
            )
            scheduler = Scheduler(
                clients["events"], targets, REGION, ACCOUNT_ID, options.schedule_scale
            )
            await asyncio.to_thread(scheduler.load)
            scheduler_task = asyncio.create_task(scheduler.run())
            event_sources = SqsEventSources(clients["lambda"], clients["sqs"], runtime, REGION)
            await asyncio.to_thread(event_sources.load)
            event_sources_task = asyncio.create_task(event_sources.run())

            info = {
                "websocket_url": websocket_url,
                "demo_url": f"{gateway_base}/",
                "connections_url": connections_url,
                "publish_url": publish_url,
                "publish_authorization": {
                    "type": publish_route.authorization_type,
                    "jwt": publish_route.jwt.as_dict() if publish_route.jwt else None,
                },
                "emulator_url": emulator_url,
                "region": REGION,
                "outputs": outputs,
            }
            (self.work_dir / STACK_FILE).write_text(json.dumps(info, indent=2))
            self._banner(info)
            if options.reload:
                watcher_task = asyncio.create_task(
                    self._watcher(terraform, runtime, clients["lambda"]).run()
                )
            await self._until_stopped()
        finally:
            log.info("stopping…")
            if scheduler_task is not None:
                scheduler_task.cancel()
            if watcher_task is not None:
                watcher_task.cancel()
            if event_sources_task is not None:
                event_sources_task.cancel()
            if gateway is not None:
                await gateway.close_all()
                await asyncio.sleep(0.2)
            if runner is not None:
                await runner.cleanup()
            if publish_runner is not None:
                await publish_runner.cleanup()
            if options.destroy_on_exit and emulator is not None and self.terraform_variables:
                await self._destroy()
            await runtime.stop()
            (self.work_dir / STACK_FILE).unlink(missing_ok=True)
            if emulator is not None:
                emulator.stop()
            log.info("stopped")

    async def _serve_publish_api(
        self, apigateway: Any, api_id: str, runtime: LocalLambda, sock: socket.socket
    ) -> tuple[web.AppRunner, str, PublishRoute]:
        """POST /<stage>/publish on its own port, as the HTTP API is its own endpoint. A JWT
        route verifies tokens signed by the local issuer's key (created on first use)."""
        route = await asyncio.to_thread(read_publish_route, apigateway, api_id, self.options.stage)
        verifier = SigV4Verifier({LOCAL_ACCESS_KEY_ID: LOCAL_SECRET_ACCESS_KEY}, REGION, ACCOUNT_ID)
        jwt_authorizer = None
        if route.jwt is not None:
            issuer = await asyncio.to_thread(LocalIssuer.load_or_create, self.work_dir)
            jwt_authorizer = JwtAuthorizer(route.jwt, issuer.public_key, issuer.kid)
        endpoint = PublishEndpoint(route, runtime, verifier, REGION, ACCOUNT_ID, jwt_authorizer)
        runner = await serve_app(endpoint.app, sock)
        port = runner.addresses[0][1]
        return runner, f"http://127.0.0.1:{port}/{self.options.stage}/publish", route

    async def _destroy(self) -> None:
        try:
            terraform = self._terraform()
            # A restored stack never ran init in this work directory.
            await asyncio.to_thread(terraform.init)
            await asyncio.to_thread(terraform.destroy, self.terraform_variables)
            log.info("terraform destroy against the emulator: done")
        except Exception as error:
            log.error("terraform destroy against the emulator failed: %s", error)
            raise

    @staticmethod
    async def _until_stopped() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()

    def _banner(self, info: dict[str, Any]) -> None:
        wscat = self.root / "node_modules" / ".bin" / "wscat"
        wscat_command = str(wscat) if wscat.exists() else "npx wscat"
        publish_body = '\'{"entityId": "demo-user", "payload": {"text": "hello"}}\''
        jwt = info["publish_authorization"]["jwt"]
        if jwt is None:
            publish_auth = (
                f"SigV4, service execute-api, key {LOCAL_ACCESS_KEY_ID}/"
                f"{LOCAL_SECRET_ACCESS_KEY}, region {REGION}"
            )
            publish_call = (
                f"signed, over HTTP: curl --aws-sigv4 'aws:amz:{REGION}:execute-api' "
                f"--user {LOCAL_ACCESS_KEY_ID}:{LOCAL_SECRET_ACCESS_KEY}"
            )
        else:
            publish_auth = f"JWT: issuer {jwt['issuer']}, signed by the local issuer key"
            publish_call = (
                'with a JWT: curl -H "Authorization: Bearer $(.venv/bin/wspush token --publish)"'
            )
        lines = [
            "",
            "wspush is running locally",
            f"  WebSocket URL    {info['websocket_url']}",
            f"  @connections     {info['connections_url']}/@connections/{{id}}",
            f"  Publish API      POST {info['publish_url']} ({publish_auth})",
            f"  AWS emulator     {info['emulator_url']}",
            f"  Demo page        {info['demo_url']}",
            "",
            "Connect (in another terminal):",
            f'  {wscat_command} -c "{info["websocket_url"]}?token='
            "$(.venv/bin/wspush token --entity demo-user --topics 'user:demo-user/*')\"",
            "  or: make connect ENTITY=demo-user",
            f"  public topics: {', '.join(self.options.public_topics) or 'none'}; the token grants "
            "user:demo-user/*",
            "Push:",
            '  .venv/bin/wspush push --entity demo-user --message \'{"text": "hello"}\'',
            '  or: make push ENTITY=demo-user MESSAGE=\'{"text": "hello"}\'',
            f"  or {publish_call} -H 'content-type: application/json' -d {publish_body} "
            f"{info['publish_url']}",
            "Scheduled pushes reach every connection (off: --var schedule_enabled=false); "
            "Ctrl-C stops everything.",
            "",
        ]
        if self.options.example:
            lines[-2:-1] = [
                f"Example {self.options.example}: see examples/{self.options.example}/README.md"
                " for what to send; Ctrl-C stops everything.",
            ]
        print("\n".join(lines), flush=True)
        log.info("ready")


def run(options: StackOptions) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S"
    )
    for noisy in ("werkzeug", "botocore", "urllib3", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stack = Stack(options)
    try:
        claimed = stack.claim()
    except Refused as refusal:
        # Nothing started and nothing of another stack's touched: one line, and out.
        print(f"wspush: {refusal}", file=sys.stderr)
        return 1
    if claimed.lock.recovered_pid is not None:
        log.info("took over the lock of pid %s, which has ended", claimed.lock.recovered_pid)
    try:
        asyncio.run(stack.serve(claimed.ports))
    except KeyboardInterrupt:
        pass
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(stack.work_dir / "functions")
        claimed.release()
    return 0
