# A fallback for people who are offline: when a push to an entity (or a connection) finds
# no live connection, wspush publishes wspush.push.undelivered on its event bus, with the
# envelope; when a push asked for receipts ("ack": true) and no connection acknowledged it
# in time, wspush.push.unacknowledged. This rule sends both to an SQS queue, where your own
# worker picks them up and emails, texts or notifies the person instead (SES, SNS, a
# mobile push service).
#
#   publish / push λ --(nobody connected)--> wspush's bus --rule--> offline queue --> you
#
# Put an SNS topic, a Lambda function or an API destination in place of the queue to act
# on the event directly; the rule's pattern stays the same.

locals {
  name = "${var.name}-${var.stage_name}"
}

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
  schedule_enabled           = false

  # On by default; shown here because this example depends on it.
  undelivered_events_enabled = true
  # How long a push with "ack": true waits for a receipt before wspush.push.unacknowledged.
  ack_timeout_seconds = var.ack_timeout_seconds
}

# --- The rule: every undelivered or unacknowledged push, to the offline queue ------------

resource "aws_cloudwatch_event_rule" "undelivered" {
  name           = "${local.name}-undelivered"
  description    = "Pushes that reached nobody, or that nobody acknowledged: deliver them another way."
  event_bus_name = module.wspush.event_bus_name
  event_pattern = jsonencode({
    source        = ["wspush"]
    "detail-type" = ["wspush.push.undelivered", "wspush.push.unacknowledged"]
  })
}

resource "aws_sqs_queue" "offline" {
  name                    = "${local.name}-offline"
  sqs_managed_sse_enabled = true
  # A day to send the email or the SMS; then the message is late anyway.
  message_retention_seconds = 86400
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.offline_dead_letter.arn
    maxReceiveCount     = 5
  })
}

# What your worker failed five times, and what EventBridge could not put on the queue.
resource "aws_sqs_queue" "offline_dead_letter" {
  name                      = "${local.name}-offline-dlq"
  sqs_managed_sse_enabled   = true
  message_retention_seconds = 1209600
}

resource "aws_cloudwatch_event_target" "offline" {
  rule           = aws_cloudwatch_event_rule.undelivered.name
  event_bus_name = module.wspush.event_bus_name
  target_id      = "offline-queue"
  arn            = aws_sqs_queue.offline.arn

  dead_letter_config {
    arn = aws_sqs_queue.offline_dead_letter.arn
  }
}

# Only this rule may send to the queues.
data "aws_iam_policy_document" "from_rule" {
  for_each = { offline = aws_sqs_queue.offline, offline_dead_letter = aws_sqs_queue.offline_dead_letter }

  statement {
    sid       = "UndeliveredPushesFromTheRule"
    actions   = ["sqs:SendMessage"]
    resources = [each.value.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.undelivered.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "from_rule" {
  for_each = data.aws_iam_policy_document.from_rule

  queue_url = each.key == "offline" ? aws_sqs_queue.offline.id : aws_sqs_queue.offline_dead_letter.id
  policy    = each.value.json
}
