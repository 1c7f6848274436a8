"""The CLI's push request and how it invokes the push function."""

from wspush_local import cli


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
