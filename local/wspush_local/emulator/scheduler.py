"""EventBridge, locally: scheduled rules fire on a (scalable) clock, and every rule's
Lambda targets receive their events through the local runtime."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wspush_local.emulator import schedule
from wspush_local.emulator.input_transformer import TransformError, resolve, transform
from wspush_local.runtime.service import InvocationError, LocalLambda

log = logging.getLogger("wspush.scheduler")


class QueueSender:
    """Writes dead letters to an SQS queue in the emulator, by queue ARN."""

    def __init__(self, sqs: Any) -> None:
        self._sqs = sqs

    def __call__(self, queue_arn: str, event: Any, attributes: dict[str, str]) -> None:
        url = self._sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"]
        extra: dict[str, Any] = {}
        if attributes:
            extra["MessageAttributes"] = {
                key: {"DataType": "String", "StringValue": value}
                for key, value in attributes.items()
            }
        self._sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event), **extra)
        log.warning("dead-lettered an event to %s: %s", queue_arn, attributes)


class RuleTargets:
    """Delivers a rule's event to one target, as EventBridge does: the target's constant
    ``Input`` replaces the event, its ``InputPath`` selects part of it and its
    ``InputTransformer`` reshapes it; a target that cannot take it gets the event
    dead-lettered."""

    def __init__(self, runtime: LocalLambda, dead_letter: QueueSender) -> None:
        self._runtime = runtime
        self._dead_letter = dead_letter

    def deliver(self, rule_arn: str, target: dict[str, Any], event: dict[str, Any]) -> None:
        payload: Any = event
        try:
            payload = target_input(rule_arn, target, event)
            self._runtime.invoke_async_from_thread(target["Arn"], payload)
        except (InvocationError, TransformError) as error:
            code, message = (
                (error.error_type, error.message)
                if isinstance(error, InvocationError)
                else ("InputTransformationFailed", str(error))
            )
            queue = target.get("DeadLetterConfig", {}).get("Arn")
            log.warning("rule %s could not deliver to %s: %s", rule_arn, target["Arn"], message)
            if queue:
                attributes = {
                    "RULE_ARN": rule_arn,
                    "TARGET_ARN": target["Arn"],
                    "ERROR_CODE": code,
                    "ERROR_MESSAGE": message,
                }
                self._dead_letter(queue, payload, attributes)


def target_input(rule_arn: str, target: dict[str, Any], event: dict[str, Any]) -> Any:
    """What EventBridge hands the target for ``event``."""
    if target.get("Input"):
        return json.loads(target["Input"])
    if target.get("InputPath"):
        return resolve(event, target["InputPath"])
    if target.get("InputTransformer"):
        rule_name = rule_arn.rsplit("/", 1)[-1]
        return transform(target["InputTransformer"], event, rule_arn, rule_name)
    return event


@dataclass
class _ScheduledRule:
    arn: str
    name: str
    expression: str
    schedule: schedule.Rate | schedule.Cron
    targets: list[dict[str, Any]]
    next_fire: datetime


def scheduled_event(rule_arn: str, region: str, account_id: str, at: datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


class Scheduler:
    """Fires enabled schedule rules. ``scale`` < 1 runs time faster: at 0.1, a rule with
    rate(1 minute) fires every 6 seconds, and a cron rule at a tenth of its spacing."""

    def __init__(
        self, events: Any, targets: RuleTargets, region: str, account_id: str, scale: float = 1.0
    ) -> None:
        if scale <= 0:
            raise ValueError("the schedule scale must be positive")
        self._events = events
        self._targets = targets
        self._region = region
        self._account_id = account_id
        self._scale = scale
        self._started_real = time.time()
        self._started_virtual = datetime.now(UTC)
        self.rules: list[_ScheduledRule] = []

    def virtual_now(self) -> datetime:
        elapsed = (time.time() - self._started_real) / self._scale
        return datetime.fromtimestamp(self._started_virtual.timestamp() + elapsed, UTC)

    def load(self) -> None:
        now = self.virtual_now()
        paginator = self._events.get_paginator("list_rules")
        for page in paginator.paginate():
            for rule in page["Rules"]:
                expression = rule.get("ScheduleExpression")
                if not expression or rule.get("State") != "ENABLED":
                    continue
                try:
                    parsed = schedule.parse(expression)
                except schedule.ScheduleError as error:
                    log.warning("rule %s skipped: %s", rule["Name"], error)
                    continue
                targets = self._events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
                self.rules.append(
                    _ScheduledRule(
                        rule["Arn"],
                        rule["Name"],
                        expression,
                        parsed,
                        targets,
                        parsed.next_after(now),
                    )
                )
                log.info("schedule %s: %s (scale %s)", rule["Name"], expression, self._scale)

    def fire_due(self) -> int:
        """Fire every rule whose time has come; returns how many fired."""
        now = self.virtual_now()
        fired = 0
        for rule in self.rules:
            if rule.next_fire > now:
                continue
            event = scheduled_event(rule.arn, self._region, self._account_id, rule.next_fire)
            for target in rule.targets:
                self._targets.deliver(rule.arn, target, event)
            fired += 1
            # Like EventBridge, missed runs are skipped rather than fired in a burst.
            while rule.next_fire <= now:
                rule.next_fire = rule.schedule.next_after(rule.next_fire)
        return fired

    async def run(self) -> None:
        while True:
            self.fire_due()
            await asyncio.sleep(0.25)
