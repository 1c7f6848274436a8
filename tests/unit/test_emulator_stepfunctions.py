"""The two Step Functions calls the emulator adds to moto for the Terraform provider."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from wspush_local.emulator.server import (
    _list_state_machine_versions,
    _validate_state_machine_definition,
)


class _Request:
    def __init__(self, **params: Any) -> None:
        self.params = params

    def _get_param(self, name: str) -> Any:
        return self.params.get(name)


VALID = {
    "StartAt": "Wait",
    "States": {"Wait": {"Type": "Wait", "Seconds": 1, "Next": "Done"}, "Done": {"Type": "Succeed"}},
}


def test_a_definition_the_interpreter_can_run_is_ok():
    result = json.loads(_validate_state_machine_definition(_Request(definition=json.dumps(VALID))))
    assert result == {"result": "OK", "diagnostics": [], "truncated": False}


def test_a_definition_it_cannot_run_fails_with_a_diagnostic():
    # Given "End": "true", a string where ASL wants a boolean
    broken = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": "true"}}}
    result = json.loads(_validate_state_machine_definition(_Request(definition=json.dumps(broken))))
    assert result["result"] == "FAIL"
    [diagnostic] = result["diagnostics"]
    assert diagnostic["severity"] == "ERROR" and diagnostic["message"]


def test_versions_are_listed_newest_first():
    machine = SimpleNamespace(
        versions={
            1: SimpleNamespace(arn="arn:sm:1", creation_date="2026-01-01"),
            2: SimpleNamespace(arn="arn:sm:2", creation_date="2026-01-02"),
        }
    )
    request = _Request(stateMachineArn="arn:sm")
    request.stepfunction_backend = SimpleNamespace(describe_state_machine=lambda arn: machine)
    result = json.loads(_list_state_machine_versions(request))
    assert [v["stateMachineVersionArn"] for v in result["stateMachineVersions"]] == [
        "arn:sm:2",
        "arn:sm:1",
    ]
