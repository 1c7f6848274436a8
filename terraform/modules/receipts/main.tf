# The ack-timeout queue: the push function sends one message per push that asks for
# receipts, delayed by ack_timeout_seconds (SQS DelaySeconds, at most 900); when it becomes
# visible, the receipts function checks whether a connection acknowledged and publishes
# wspush.push.unacknowledged if none did. A check that keeps failing (the bus refusing
# events) is sent to the dead-letter queue by the function itself on its max_receive_count-th
# receive: a redrive policy would make the queue wait for its dead-letter queue at creation,
# ~25 s more on every first apply (docs/receipts.md).

data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

# The queues' ARNs and URLs, built from their names in the formats AWS documents
# (arn:PARTITION:sqs:REGION:ACCOUNT:NAME, https://sqs.REGION.DNS_SUFFIX/ACCOUNT/NAME): an
# IAM policy or an environment variable that names a queue then need not wait for it, and
# SQS takes about 25 s to create one (the provider waits for its attributes to settle).
# The event source mapping still uses the queue itself: Lambda checks that it exists.
locals {
  queue_names = {
    queue       = "${var.name}-ack-timeouts"
    dead_letter = "${var.name}-ack-timeouts-dlq"
  }
  queue_arns = {
    for key, name in local.queue_names :
    key => "arn:${data.aws_partition.current.partition}:sqs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${name}"
  }
  queue_urls = {
    for key, name in local.queue_names :
    key => "https://sqs.${data.aws_region.current.name}.${data.aws_partition.current.dns_suffix}/${data.aws_caller_identity.current.account_id}/${name}"
  }
}

resource "aws_sqs_queue" "this" {
  name = local.queue_names.queue
  # A check waits at most 900 s and then takes seconds: a day is ample.
  message_retention_seconds = 86400
  # Six times the function's timeout, as AWS advises for an SQS event source.
  visibility_timeout_seconds = 6 * var.function_timeout_seconds
  sqs_managed_sse_enabled    = var.kms_key_arn == null ? true : null
  kms_master_key_id          = var.kms_key_arn
  # No redrive_policy: the receipts function dead-letters a check itself (see the top).
  tags = var.tags
}

resource "aws_sqs_queue" "dead_letter" {
  name                      = local.queue_names.dead_letter
  message_retention_seconds = 1209600 # 14 days, the most SQS keeps
  sqs_managed_sse_enabled   = var.kms_key_arn == null ? true : null
  kms_master_key_id         = var.kms_key_arn
  tags                      = var.tags
}

resource "aws_lambda_event_source_mapping" "this" {
  event_source_arn        = aws_sqs_queue.this.arn
  function_name           = var.function_name
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]
}
