# The ack-timeout queue: the push function sends one message per push that asks for
# receipts, delayed by ack_timeout_seconds (SQS DelaySeconds, at most 900); when it becomes
# visible, the receipts function checks whether a connection acknowledged and publishes
# wspush.push.unacknowledged if none did. A check that keeps failing (the bus refusing
# events) moves to the dead-letter queue after max_receive_count receives.

resource "aws_sqs_queue" "this" {
  name = "${var.name}-ack-timeouts"
  # A check waits at most 900 s and then takes seconds: a day is ample.
  message_retention_seconds = 86400
  # Six times the function's timeout, as AWS advises for an SQS event source.
  visibility_timeout_seconds = 6 * var.function_timeout_seconds
  sqs_managed_sse_enabled    = var.kms_key_arn == null ? true : null
  kms_master_key_id          = var.kms_key_arn
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = var.max_receive_count
  })
  tags = var.tags
}

resource "aws_sqs_queue" "dead_letter" {
  name                      = "${var.name}-ack-timeouts-dlq"
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
