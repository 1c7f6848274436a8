# Two queues, one message format each:
# - dead_letter: the push function's on-failure destination. Every message is a Lambda
#   invocation record (the request, the error, the condition); `wspush dlq` reads these.
# - undelivered: what EventBridge could not hand to Lambda at all (a missing permission, a
#   deleted function). Every message is the event itself, with EventBridge's attributes.
locals {
  queues = {
    dead_letter = "${var.name}-push-dlq"
    undelivered = "${var.name}-events-dlq"
  }
}

data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

# The queues' ARNs, built from their names in the format AWS documents
# (arn:PARTITION:sqs:REGION:ACCOUNT:NAME), for the functions' IAM policies: a policy need
# not wait the ~25 s SQS takes to create a queue (the provider waits for its attributes to
# settle), and the undelivered queue's own policy can name it. What AWS checks exists (the
# on-failure destination, the targets' dead-letter queue) still uses the queues themselves.
locals {
  queue_arns = {
    for key, name in local.queues :
    key => "arn:${data.aws_partition.current.partition}:sqs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${name}"
  }
}

resource "aws_sqs_queue" "this" {
  for_each = local.queues

  name                      = each.value
  message_retention_seconds = 1209600 # 14 days, the most SQS keeps
  sqs_managed_sse_enabled   = var.kms_key_arn == null ? true : null
  kms_master_key_id         = var.kms_key_arn
  # Set at creation, not by a separate aws_sqs_queue_policy: the provider waits ~25 s for
  # every queue and every queue policy to settle, and a policy after its queue made the
  # apply wait twice on its critical path.
  policy = each.key == "undelivered" ? data.aws_iam_policy_document.undelivered.json : null
  tags   = var.tags
}

moved {
  from = aws_sqs_queue.dead_letter
  to   = aws_sqs_queue.this["dead_letter"]
}

resource "aws_cloudwatch_event_bus" "this" {
  name = var.name
  tags = var.tags
}

resource "aws_cloudwatch_event_rule" "schedule" {
  name                = "${var.name}-push-schedule"
  description         = "Invokes the push function on a schedule with the scheduled message."
  schedule_expression = var.schedule_expression
  state               = var.schedule_enabled ? "ENABLED" : "DISABLED"
  tags                = var.tags
}

resource "aws_cloudwatch_event_rule" "notification" {
  name           = "${var.name}-notification"
  description    = "Routes ${var.notification_detail_type} events on the bus to the push function."
  event_bus_name = aws_cloudwatch_event_bus.this.name
  event_pattern  = jsonencode({ "detail-type" = [var.notification_detail_type] })
  tags           = var.tags
}

locals {
  rules = {
    schedule     = aws_cloudwatch_event_rule.schedule
    notification = aws_cloudwatch_event_rule.notification
  }
}

resource "aws_cloudwatch_event_target" "this" {
  for_each = local.rules

  rule           = each.value.name
  event_bus_name = each.value.event_bus_name
  target_id      = "push"
  arn            = var.push_function_arn
  # The schedule carries its message and audience; a notification passes the whole event.
  input = each.key == "schedule" ? jsonencode(var.scheduled_push) : null

  retry_policy {
    maximum_retry_attempts       = var.retry_attempts
    maximum_event_age_in_seconds = var.max_event_age_seconds
  }

  dead_letter_config {
    arn = aws_sqs_queue.this["undelivered"].arn
  }
}

resource "aws_lambda_permission" "this" {
  for_each = local.rules

  statement_id  = "AllowEventBridge-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = var.push_function_name
  principal     = "events.amazonaws.com"
  source_arn    = each.value.arn
}

data "aws_iam_policy_document" "undelivered" {
  statement {
    sid     = "EventBridgeDeadLetters"
    actions = ["sqs:SendMessage"]
    # Built from the name: the queue holds this policy, so it cannot name its own ARN.
    resources = [local.queue_arns.undelivered]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [for rule in local.rules : rule.arn]
    }
  }
}

# Up to 0.3.0 a separate aws_sqs_queue_policy held the policy; the queue's own policy
# attribute holds it now. Forgotten, not destroyed: destroying it would delete the policy
# the queue now owns (SetQueueAttributes with an empty Policy).
removed {
  from = aws_sqs_queue_policy.undelivered

  lifecycle {
    destroy = false
  }
}
