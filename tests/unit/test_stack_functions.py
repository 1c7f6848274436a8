"""Which functions the local stack registers: besides those the outputs and routes name,
every function a registered one is configured to invoke by ARN (a client publish hook)."""

from pathlib import Path

from wspush_local.runtime.service import FunctionSpec
from wspush_local.stack.run import invoked_functions


def _spec(name, **environment):
    return FunctionSpec(name, "h.handler", Path("x.zip"), dict(environment), 3)


def test_a_hook_named_by_arn_in_an_environment_is_registered_too():
    specs = [
        _spec(
            "chat-prod-message",
            CLIENT_PUBLISH_HOOK_ARN="arn:aws:lambda:us-east-1:123456789012:function:chat-prod-moderate",
            PUSH_FUNCTION_NAME="chat-prod-push",
        ),
        _spec("chat-prod-push", CONNECTIONS_TABLE="t"),
    ]
    assert invoked_functions(specs, ["chat-prod-message", "chat-prod-push"]) == [
        "chat-prod-moderate"
    ]


def test_known_functions_qualified_arns_and_other_values():
    specs = [
        _spec(
            "a",
            HOOK="arn:aws:lambda:us-east-1:123456789012:function:b:live",
            QUEUE="arn:aws:sqs:us-east-1:123456789012:q",
            TEXT="see arn:aws:lambda:us-east-1:123456789012:function:c",
            EMPTY="",
        )
    ]
    assert invoked_functions(specs, ["a"]) == ["b"]
    assert invoked_functions(specs, ["a", "b"]) == []
