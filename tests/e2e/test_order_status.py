"""The order-status example end to end: its own local stack (examples/order_status, waits
scaled down by its local.tfvars), real clients, Step Functions executed by the emulator,
events:putEvents through the bus and the rule's input transformer to wspush's push."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
import websockets

from tests.e2e.conftest import LocalStack, example_stack, wait_until

pytestmark = pytest.mark.e2e

STATUSES = ["received", "preparing", "baking", "out_for_delivery", "delivered"]


@pytest.fixture(scope="module")
def order_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with example_stack(tmp_path_factory, "order_status") as local:
        yield local


async def _recv_json(ws, timeout: float) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


def _warm_push_workers(stack: LocalStack, workers: int = 4) -> None:
    """Start push's workers before the order: the two-second waits between statuses must
    exceed delivery, and a worker's cold start on a busy machine can take longer."""
    request = {"entityId": "nobody-is-connected", "payload": {}}
    with ThreadPoolExecutor(workers) as pool:
        reports = list(pool.map(lambda _: stack.push(request), range(workers)))
    assert all(report["targeted"] == 0 for report in reports)


def test_the_customer_gets_every_status_in_order_once_and_no_one_else_does(order_stack):
    _warm_push_workers(order_stack)

    async def scenario() -> tuple[list[dict], list[dict]]:
        async with (
            websockets.connect(order_stack.connect_url("customer-a")) as customer,
            websockets.connect(order_stack.connect_url("customer-b")) as other,
        ):
            other_frames: list[dict] = []

            async def listen() -> None:
                async for raw in other:
                    other_frames.append(json.loads(raw))

            listener = asyncio.create_task(listen())
            # A frame that is not an order gets an error frame, and no workflow
            await customer.send(json.dumps({"action": "placeOrder", "item": ""}))
            error = await _recv_json(customer, 10)
            assert error["type"] == "error" and error["code"] == "invalid_order", error

            await customer.send(json.dumps({"action": "placeOrder", "item": "margherita"}))
            frames: list[dict] = []
            while not any(f.get("data", {}).get("status") == "delivered" for f in frames):
                frames.append(await _recv_json(customer, 30))
            # Anything more (a duplicate, a late status) would arrive within this grace.
            with contextlib.suppress(TimeoutError):
                while True:
                    frames.append(await _recv_json(customer, 2))
            listener.cancel()
            return frames, other_frames

    frames, other_frames = asyncio.run(scenario())

    # The caller learns its order id once
    placed = [f for f in frames if f["type"] == "orderPlaced"]
    assert len(placed) == 1, frames
    order_id = placed[0]["orderId"]
    # and receives every status, in order, each exactly once, as wspush envelopes
    pushes = [f for f in frames if f["type"] != "orderPlaced"]
    assert [f["type"] for f in pushes] == ["order.status"] * len(STATUSES), frames
    assert [f["data"]["status"] for f in pushes] == STATUSES
    assert [f["data"]["sequence"] for f in pushes] == [1, 2, 3, 4, 5]
    assert {f["data"]["orderId"] for f in pushes} == {order_id}
    assert {f["data"]["item"] for f in pushes} == {"margherita"}
    # and each envelope id is the order's and the status's, so a redelivery would repeat it
    assert [f["id"] for f in pushes] == [f"order-{order_id}-{n}" for n in range(1, 6)]
    # while the other customer receives nothing at all
    assert other_frames == []

    # And the workflow, named after the order, ran to its end
    info = json.loads((order_stack.work_dir / "stack.json").read_text())
    stepfunctions = boto3.client(
        "stepfunctions",
        endpoint_url=info["emulator_url"],
        region_name=info["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    execution_arn = (
        info["outputs"]["state_machine_arn"].replace(":stateMachine:", ":execution:")
        + f":{order_id}"
    )
    assert wait_until(
        lambda: (
            stepfunctions.describe_execution(executionArn=execution_arn)["status"] == "SUCCEEDED"
        ),
        timeout=10,
    )
    executions = stepfunctions.list_executions(stateMachineArn=info["outputs"]["state_machine_arn"])
    assert len(executions["executions"]) == 1
