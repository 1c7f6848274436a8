# An order workflow that tells the customer where their order is, over wspush:
#
#   client --placeOrder--> place-order λ --StartExecution--> state machine
#   state machine --events:putEvents (OrderStatusChanged)--> wspush's event bus
#   rule (input transformer) --> wspush's push λ --@connections--> the customer's connections

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  name = "${var.name}-${var.stage_name}"

  # The domain event the workflow publishes; anything else on the bus can consume it too.
  event_source = "wspush.example.orders"
  detail_type  = "OrderStatusChanged"
  statuses     = ["received", "preparing", "baking", "out_for_delivery", "delivered"]
}

# --- wspush, with one extra route ------------------------------------------------------

module "wspush" {
  #checkov:skip=CKV_TF_1:A release tag is the version this example documents (CHANGELOG.md, checksummed artifacts); pin a commit hash in your own root if tags must not be trusted to stay put.
  source = "git::https://github.com/wspush/wspush.git//terraform/modules/wspush?ref=v0.3.0"

  lambda_package             = var.lambda_package
  name                       = var.name
  stage_name                 = var.stage_name
  log_retention_days         = var.log_retention_days
  deletion_protection        = var.deletion_protection
  manage_api_gateway_account = var.manage_api_gateway_account
  monitoring_enabled         = var.monitoring_enabled
  public_topic_patterns      = var.public_topic_patterns
  # Only order statuses reach clients here: no scheduled broadcast.
  schedule_enabled = false

  custom_routes = {
    placeOrder = {
      function_name = module.place_order.function_name
      invoke_arn    = module.place_order.invoke_arn
    }
  }
}

# --- placeOrder: starts the workflow for the caller -----------------------------------

data "aws_iam_policy_document" "place_order" {
  statement {
    sid       = "StartOrderWorkflow"
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.order.arn]
  }

  statement {
    sid       = "ReplyToCaller"
    actions   = ["execute-api:ManageConnections"]
    resources = [module.wspush.manage_connections_arn]
  }
}

module "place_order" {
  #checkov:skip=CKV_TF_1:A release tag is the version this example documents (CHANGELOG.md, checksummed artifacts); pin a commit hash in your own root if tags must not be trusted to stay put.
  source = "git::https://github.com/wspush/wspush.git//terraform/modules/lambda_function?ref=v0.3.0"

  function_name      = "${local.name}-place-order"
  description        = "Starts the order workflow for the calling connection's entity."
  handler            = "order_status.handlers.place_order.handler"
  package            = var.place_order_package
  policy_json        = data.aws_iam_policy_document.place_order.json
  timeout            = 10
  log_retention_days = var.log_retention_days
  environment = {
    ORDER_STATE_MACHINE_ARN = aws_sfn_state_machine.order.arn
    CONNECTIONS_ENDPOINT    = module.wspush.connections_url
  }
}

# --- The workflow: wait, then announce each status ------------------------------------

locals {
  # "Announce <status>" puts an OrderStatusChanged event on wspush's bus through the
  # optimised events:putEvents integration; every status after the first waits first.
  steps = [
    for index, status in local.statuses : {
      status   = status
      sequence = index + 1
      wait     = index == 0 ? null : "Wait for ${status}"
      announce = "Announce ${status}"
      next     = index + 1 < length(local.statuses) ? "Wait for ${local.statuses[index + 1]}" : null
    }
  ]

  announce_states = {
    for step in local.steps : step.announce => merge(
      {
        Type     = "Task"
        Resource = "arn:${data.aws_partition.current.partition}:states:::events:putEvents"
        Parameters = {
          Entries = [{
            EventBusName = module.wspush.event_bus_name
            Source       = local.event_source
            DetailType   = local.detail_type
            Detail = {
              order = {
                "orderId.$" = "$.orderId"
                "item.$"    = "$.item"
                status      = step.status
                sequence    = step.sequence
              }
              customer = {
                "entityId.$"     = "$.entityId"
                "connectionId.$" = "$.connectionId"
              }
            }
          }]
        }
        # Keep the order as the state's output, for the next state.
        ResultPath = null
        Retry = [{
          ErrorEquals     = ["EventBridge.FailedEntry", "States.TaskFailed"]
          IntervalSeconds = 1
          MaxAttempts     = 3
          BackoffRate     = 2
        }]
      },
      # Two merges, not one conditional: each keeps its own type (End a bool, Next a string).
      step.next == null ? { End = true } : {},
      step.next == null ? {} : { Next = step.next },
    )
  }

  wait_states = {
    for step in local.steps : step.wait => {
      Type    = "Wait"
      Seconds = var.status_wait_seconds[step.status]
      Next    = step.announce
    } if step.wait != null
  }

  definition = {
    Comment = "An order: announce each status on wspush's bus, waiting between them."
    StartAt = local.steps[0].announce
    States  = merge(local.announce_states, local.wait_states)
  }
}

data "aws_iam_policy_document" "states_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

data "aws_iam_policy_document" "order_workflow" {
  statement {
    sid       = "AnnounceStatus"
    actions   = ["events:PutEvents"]
    resources = [module.wspush.event_bus_arn]
  }

  statement {
    # Step Functions' log delivery actions support no resource-level permissions.
    sid = "DeliverExecutionLogs"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  statement {
    # X-Ray's write actions take no resource ARN.
    sid       = "WriteTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    resources = ["*"]
  }
}

resource "aws_iam_role" "order_workflow" {
  # IAM is global: the region keeps a second region's deployment from colliding.
  name               = "${local.name}-order-workflow-${data.aws_region.current.name}"
  assume_role_policy = data.aws_iam_policy_document.states_assume.json
}

resource "aws_iam_role_policy" "order_workflow" {
  name   = "${local.name}-order-workflow"
  role   = aws_iam_role.order_workflow.id
  policy = data.aws_iam_policy_document.order_workflow.json
}

resource "aws_cloudwatch_log_group" "order_workflow" {
  #checkov:skip=CKV_AWS_158:Log data is encrypted at rest by CloudWatch Logs; execution data is not logged.
  #checkov:skip=CKV_AWS_338:Retention is a deliberate variable (default 30 days).
  name              = "/aws/vendedlogs/states/${local.name}-order"
  retention_in_days = var.log_retention_days
}

resource "aws_sfn_state_machine" "order" {
  #checkov:skip=CKV_AWS_285:Step Functions keeps every execution's history itself; the log group gets failures without execution data, which names the customer and their connection.
  name       = "${local.name}-order"
  role_arn   = aws_iam_role.order_workflow.arn
  type       = "STANDARD"
  definition = jsonencode(local.definition)

  logging_configuration {
    # Failures only, and without the order's data.
    log_destination        = "${aws_cloudwatch_log_group.order_workflow.arn}:*"
    include_execution_data = false
    level                  = "ERROR"
  }

  tracing_configuration {
    enabled = true
  }

  depends_on = [aws_iam_role_policy.order_workflow]
}

# --- Route OrderStatusChanged to wspush's push ----------------------------------------

resource "aws_cloudwatch_event_rule" "order_status" {
  name           = "${local.name}-order-status"
  description    = "Pushes every ${local.detail_type} event to the entity that placed the order."
  event_bus_name = module.wspush.event_bus_name
  event_pattern  = jsonencode({ source = [local.event_source], "detail-type" = [local.detail_type] })
}

resource "aws_cloudwatch_event_target" "order_status" {
  rule           = aws_cloudwatch_event_rule.order_status.name
  event_bus_name = aws_cloudwatch_event_rule.order_status.event_bus_name
  target_id      = "push"
  arn            = module.wspush.push_function_arn

  # The domain event becomes a push request: to the entity that placed the order, with
  # the order (id, item, status, sequence) as the payload. The push id is the order and
  # the status's sequence, so a redelivered event carries the same envelope id and
  # clients drop the copy.
  input_transformer {
    input_paths = {
      entityId = "$.detail.customer.entityId"
      order    = "$.detail.order"
      orderId  = "$.detail.order.orderId"
      sequence = "$.detail.order.sequence"
    }
    input_template = <<-EOT
      {"entityId": "<entityId>", "type": "order.status", "id": "order-<orderId>-<sequence>", "payload": <order>}
    EOT
  }

  retry_policy {
    maximum_retry_attempts       = 8
    maximum_event_age_in_seconds = 3600
  }

  dead_letter_config {
    arn = aws_sqs_queue.order_status_dead_letter.arn
  }
}

resource "aws_lambda_permission" "order_status" {
  statement_id  = "AllowEventBridge-order-status"
  action        = "lambda:InvokeFunction"
  function_name = module.wspush.function_names["push"]
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.order_status.arn
}

resource "aws_sqs_queue" "order_status_dead_letter" {
  name                      = "${local.name}-order-status-dlq"
  message_retention_seconds = 1209600 # 14 days, the most SQS keeps
  sqs_managed_sse_enabled   = true
}

data "aws_iam_policy_document" "order_status_dead_letter" {
  statement {
    sid       = "EventBridgeDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.order_status_dead_letter.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.order_status.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "order_status_dead_letter" {
  queue_url = aws_sqs_queue.order_status_dead_letter.id
  policy    = data.aws_iam_policy_document.order_status_dead_letter.json
}
