# Plan-only, against a mocked provider: the workflow's states, the rule that turns its
# events into pushes, and exact least-privilege grants.
mock_provider "aws" {
  override_during = plan

  # Only what the configuration computes with: the rest may stay random.
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }

  mock_data "aws_region" {
    defaults = { name = "us-east-1", id = "us-east-1" }
  }

  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }

  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }

  # The ARNs the assertions compare.
  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:us-east-1:123456789012:orders-prod-order-status-dlq" }
  }

  mock_resource "aws_cloudwatch_event_bus" {
    defaults = { arn = "arn:aws:events:us-east-1:123456789012:event-bus/orders-prod" }
  }

  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:us-east-1:123456789012:rule/orders-prod/orders-prod-order-status" }
  }

  mock_resource "aws_apigatewayv2_api" {
    defaults = { id = "a1b2c3d4e5", execution_arn = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5", api_endpoint = "wss://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com" }
  }

  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:us-east-1:123456789012:function:orders-prod-place-order", invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:orders-prod-place-order/invocations" }
  }
}

override_resource {
  target          = aws_sfn_state_machine.order
  override_during = plan
  values = {
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:orders-prod-order"
  }
}

run "the_workflow_announces_every_status_through_put_events" {
  command = plan

  assert {
    condition     = jsondecode(aws_sfn_state_machine.order.definition).StartAt == "Announce received" && length(jsondecode(aws_sfn_state_machine.order.definition).States) == 9
    error_message = "The workflow must start by announcing received, then wait and announce each of the four other statuses."
  }

  assert {
    condition = alltrue([
      for index, status in ["received", "preparing", "baking", "out_for_delivery", "delivered"] :
      jsondecode(aws_sfn_state_machine.order.definition).States["Announce ${status}"].Resource == "arn:aws:states:::events:putEvents" &&
      jsondecode(aws_sfn_state_machine.order.definition).States["Announce ${status}"].Parameters.Entries[0].DetailType == "OrderStatusChanged" &&
      jsondecode(aws_sfn_state_machine.order.definition).States["Announce ${status}"].Parameters.Entries[0].Detail.order.status == status &&
      jsondecode(aws_sfn_state_machine.order.definition).States["Announce ${status}"].Parameters.Entries[0].Detail.order.sequence == index + 1
    ])
    error_message = "Each status must be announced, in order, as an OrderStatusChanged event through the optimised events:putEvents integration."
  }

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.order.definition).States["Wait for baking"].Seconds == 20 &&
      jsondecode(aws_sfn_state_machine.order.definition).States["Wait for baking"].Next == "Announce baking" &&
      jsondecode(aws_sfn_state_machine.order.definition).States["Announce delivered"].End == true
    )
    error_message = "Every status after the first must wait its status_wait_seconds, and delivered must end the workflow."
  }

  assert {
    condition     = aws_sfn_state_machine.order.type == "STANDARD" && aws_sfn_state_machine.order.logging_configuration[0].include_execution_data == false
    error_message = "A Standard workflow (long waits, exactly-once states) whose logs leave out the order's data."
  }
}

run "order_status_events_become_pushes_to_the_customer" {
  command = plan

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.order_status.event_pattern) == { source = ["wspush.example.orders"], "detail-type" = ["OrderStatusChanged"] }
    error_message = "The rule must match exactly the workflow's OrderStatusChanged events."
  }

  assert {
    condition = (
      aws_cloudwatch_event_target.order_status.input_transformer[0].input_paths == tomap({ entityId = "$.detail.customer.entityId", order = "$.detail.order", orderId = "$.detail.order.orderId", sequence = "$.detail.order.sequence" }) &&
      jsondecode(replace(replace(replace(replace(aws_cloudwatch_event_target.order_status.input_transformer[0].input_template, "<entityId>", "alice"), "<orderId>", "o-1"), "<sequence>", "3"), "<order>", "{}")) == { entityId = "alice", type = "order.status", id = "order-o-1-3", payload = {} }
    )
    error_message = "The input transformer must turn the event into a push request to the entity that placed the order."
  }

  assert {
    condition     = aws_cloudwatch_event_target.order_status.dead_letter_config[0].arn == aws_sqs_queue.order_status_dead_letter.arn
    error_message = "Events the rule cannot deliver must be dead-lettered."
  }
}

run "grants_are_exact" {
  command = plan

  assert {
    condition = (
      data.aws_iam_policy_document.order_workflow.statement[0].actions == toset(["events:PutEvents"]) &&
      data.aws_iam_policy_document.order_workflow.statement[0].resources == toset([module.wspush.event_bus_arn])
    )
    error_message = "The workflow may put events on wspush's bus only."
  }

  assert {
    condition = (
      data.aws_iam_policy_document.place_order.statement[0].actions == toset(["states:StartExecution"]) &&
      data.aws_iam_policy_document.place_order.statement[0].resources == toset([aws_sfn_state_machine.order.arn]) &&
      data.aws_iam_policy_document.place_order.statement[1].actions == toset(["execute-api:ManageConnections"]) &&
      data.aws_iam_policy_document.place_order.statement[1].resources == toset([module.wspush.manage_connections_arn])
    )
    error_message = "placeOrder may start this workflow and reply on this stage's @connections, nothing more."
  }

  assert {
    condition     = aws_lambda_permission.order_status.principal == "events.amazonaws.com" && aws_lambda_permission.order_status.source_arn == aws_cloudwatch_event_rule.order_status.arn
    error_message = "EventBridge may invoke push for this rule only."
  }

  assert {
    condition     = output.function_names["place_order"] == module.place_order.function_name
    error_message = "The local stack and the CLI find the placeOrder function among function_names."
  }
}

run "waits_are_whole_seconds_from_one" {
  command = plan

  variables {
    status_wait_seconds = { preparing = 0, baking = 1, out_for_delivery = 1, delivered = 1.5 }
  }

  expect_failures = [var.status_wait_seconds]
}

run "leaves_the_accounts_logging_role_alone_by_default" {
  command = plan

  assert {
    condition     = module.wspush.api_gateway_cloudwatch_role_arn == null
    error_message = "The example must not overwrite the account-wide API Gateway logging role unless asked (manage_api_gateway_account)."
  }
}

run "names_carry_the_region_and_fit_iam" {
  command = plan

  assert {
    condition     = aws_iam_role.order_workflow.name == "orders-prod-order-workflow-us-east-1" && length(module.place_order.role_name) <= 64
    error_message = "IAM names are global: the workflow's role must carry the region, within IAM's 64 characters."
  }
}

run "a_name_too_long_for_the_workflows_role_is_refused" {
  command = plan

  variables {
    name       = "orders-for-a-long-brand"
    stage_name = "production-eu"
  }

  expect_failures = [var.stage_name]
}
