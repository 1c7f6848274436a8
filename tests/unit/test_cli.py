"""The CLI's push request, how it invokes the push function, and its publish tokens."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from wspush_local.cli import main as cli
from wspush_local.gateway.jwt_authorizer import (
    JwtAuthorizer,
    JwtConfiguration,
    JwtRejected,
    LocalIssuer,
)


def test_push_with_id_and_exclusion_builds_that_request():
    args = cli.parser().parse_args(
        [
            "push",
            "--topic",
            "chat",
            "--message",
            '{"t": 1}',
            "--id",
            "k-1",
            "--exclude-connection",
            "c1",
        ]
    )
    assert cli._push_request(args) == {
        "payload": {"t": 1},
        "type": "notification",
        "id": "k-1",
        "excludeConnectionId": "c1",
        "topic": "chat",
    }


def test_the_push_function_is_invoked_without_sdk_retries_and_with_a_long_read_timeout():
    # Given a deployment (the local emulator's address is enough to build a client)
    deployment = cli.Deployment({}, "us-east-1", "ws://x", "http://p", "http://127.0.0.1:1")
    # When the CLI builds its client for push and dlq redrive
    config = deployment.push_function_client().meta.config
    # Then a read timeout cannot trigger a second invocation behind the caller's back
    assert config.retries["total_max_attempts"] == 1
    assert config.read_timeout > cli.MAX_FUNCTION_SECONDS


def test_run_takes_terraform_variables():
    args = cli.parser().parse_args(["run", "--var", "push_shard_size=50", "--var", "x=a=b"])
    assert dict(cli._variable(v) for v in args.var) == {"push_shard_size": "50", "x": "a=b"}


def test_run_models_an_account_concurrency_limit():
    # Generous for development by default; a new account's 10 on request
    assert cli.parser().parse_args(["run"]).account_concurrency == 1000
    assert cli.parser().parse_args(["run", "--account-concurrency", "10"]).account_concurrency == 10
    for bad in ("0", "ten"):
        with pytest.raises(SystemExit):
            cli.parser().parse_args(["run", "--account-concurrency", bad])


def _local_stack_file(work_dir: Path, jwt: JwtConfiguration | None) -> None:
    info = {
        "outputs": {},
        "region": "us-east-1",
        "websocket_url": "ws://x",
        "publish_url": "http://127.0.0.1:1/local/publish",
        "emulator_url": "http://127.0.0.1:1",
        "publish_authorization": {
            "type": "JWT" if jwt else "AWS_IAM",
            "jwt": jwt.as_dict() if jwt else None,
        },
    }
    (work_dir / "stack.json").write_text(json.dumps(info))


SCOPED = JwtConfiguration("https://issuer.example", ("wspush",), ("publish",))


def _authorize(work_dir: Path, header: str) -> dict:
    issuer = LocalIssuer.load(work_dir)
    return JwtAuthorizer(SCOPED, issuer.public_key, issuer.kid).authorize({"Authorization": header})


def test_token_publish_mints_a_token_the_local_jwt_route_accepts(tmp_path, capsys):
    # Given a local stack in JWT mode (its issuer key in its work directory)
    _local_stack_file(tmp_path, SCOPED)
    LocalIssuer.load_or_create(tmp_path)
    # When a publish token is asked for
    assert cli.main(["token", "--publish", "--work-dir", str(tmp_path), "--ttl", "60"]) == 0
    token = capsys.readouterr().out.strip()
    # Then the authorizer accepts it, with the route's scopes by default
    jwt = _authorize(tmp_path, f"Bearer {token}")["jwt"]
    assert jwt["claims"]["sub"] == cli.PUBLISH_SUBJECT and jwt["scopes"] == ["publish"]


def test_token_publish_with_another_audience_is_refused_by_the_route(tmp_path, capsys):
    _local_stack_file(tmp_path, SCOPED)
    LocalIssuer.load_or_create(tmp_path)
    argv = ["token", "--publish", "--work-dir", str(tmp_path), "--audience", "nobody"]
    assert cli.main([*argv, "--scope", "publish"]) == 0
    with pytest.raises(JwtRejected):
        _authorize(tmp_path, f"Bearer {capsys.readouterr().out.strip()}")


def test_token_publish_refuses_a_sigv4_route_and_aws(tmp_path):
    _local_stack_file(tmp_path, None)
    with pytest.raises(SystemExit, match="SigV4"):
        cli.main(["token", "--publish", "--work-dir", str(tmp_path)])
    with pytest.raises(SystemExit, match="local stack only"):
        cli.main(["token", "--publish", "--aws"])
    aws = cli.Deployment({}, "us-east-1", "wss://x", "https://p")
    with pytest.raises(SystemExit, match="local stack only"):
        cli.publish_token(aws, "me", None, 60)


def test_push_via_http_sends_a_bearer_token_to_a_jwt_route(tmp_path, monkeypatch, capsys):
    # Given a local stack in JWT mode, and the HTTP call captured
    _local_stack_file(tmp_path, SCOPED)
    LocalIssuer.load_or_create(tmp_path)
    sent = {}

    def answer(method, url, body, headers, **_):
        sent.update(headers)
        return SimpleNamespace(status=202, data=b'{"status": "accepted"}')

    monkeypatch.setattr(cli.urllib3, "request", answer)
    # When a push goes over HTTP
    argv = ["push", "--broadcast", "--message", "{}", "--via-http", "--work-dir", str(tmp_path)]
    assert cli.main(argv) == 0
    # Then it carries a minted bearer token, not a SigV4 signature
    assert "x-amz-date" not in {name.lower() for name in sent}
    assert _authorize(tmp_path, sent["authorization"])["jwt"]["claims"]["sub"] == "wspush-cli"
