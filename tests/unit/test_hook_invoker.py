"""The publish hook's answer is read like any JSON from outside: strictly."""

import io

import pytest

from wspush.dal.hook_invoker import HookInvoker
from wspush.models.client_publish import HookFailed

HOOK = "arn:aws:lambda:us-east-1:123456789012:function:hook"


class AnsweringClient:
    def __init__(self, raw: bytes):
        self.raw = raw

    def invoke(self, **_):
        return {"StatusCode": 200, "Payload": io.BytesIO(self.raw)}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"action":"replace","data":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"action":"allow","action":"replace","data":1}',
        b'{"action":"replace","data":NaN}',
        b'{"action":"replace","data":' + b"9" * 5000 + b"}",
        b'{"action":"replace","data":"\\ud800"}',
    ],
    ids=["deep", "duplicate-key", "nan", "huge-int", "lone-surrogate"],
)
def test_a_garbage_hook_answer_is_a_hook_failure_not_a_crash(raw):
    with pytest.raises(HookFailed, match="not JSON"):
        HookInvoker(AnsweringClient(raw), HOOK).call({"topic": "room.1"})


def test_a_good_answer_is_read():
    answer = HookInvoker(AnsweringClient(b'{"action":"replace","data":{"a":1}}'), HOOK).call({})
    assert answer == {"action": "replace", "data": {"a": 1}}
