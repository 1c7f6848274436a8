# Plan-only: receipts and the undelivered event reach the functions, with least privilege,
# and bad values fail plan.
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  lambda_package = { path = "tests/fixtures/lambda.zip" }
}

run "defaults_wait_a_minute_and_fall_back" {
  command = plan

  assert {
    condition = (
      local.function_definitions.push.environment.ACK_TIMEOUT_SECONDS == "60" &&
      local.function_definitions.push.environment.UNDELIVERED_EVENTS_ENABLED == "true" &&
      local.function_definitions.push.environment.PUSH_EVENT_BUS == "wspush-prod" &&
      local.function_definitions.receipts.environment.PUSH_EVENT_BUS == "wspush-prod"
    )
    error_message = "By default a receipt is awaited 60 s and undelivered events are on, on the stack's bus."
  }

  assert {
    condition     = local.routes["ack"] == "message" && contains(keys(module.websocket_api.route_response_ids), "ack")
    error_message = "The ack action has its own route."
  }
}

run "settings_reach_the_push_function" {
  command = plan

  variables {
    ack_timeout_seconds        = 900
    undelivered_events_enabled = false
  }

  assert {
    condition = (
      local.function_definitions.push.environment.ACK_TIMEOUT_SECONDS == "900" &&
      local.function_definitions.push.environment.UNDELIVERED_EVENTS_ENABLED == "false"
    )
    error_message = "ack_timeout_seconds and undelivered_events_enabled must reach the push function."
  }
}

run "the_ack_timeout_queue_is_encrypted_and_dead_letters" {
  command = plan

  module {
    source = "../receipts"
  }

  variables {
    name                     = "wspush-prod"
    function_name            = "wspush-prod-receipts"
    function_timeout_seconds = 10
    kms_key_arn              = "arn:aws:kms:us-east-1:123456789012:key/0000"
  }

  assert {
    condition = (
      aws_sqs_queue.this.name == "wspush-prod-ack-timeouts" &&
      aws_sqs_queue.this.visibility_timeout_seconds == 60 &&
      aws_sqs_queue.this.kms_master_key_id == "arn:aws:kms:us-east-1:123456789012:key/0000" &&
      aws_sqs_queue.dead_letter.kms_master_key_id == "arn:aws:kms:us-east-1:123456789012:key/0000" &&
      aws_lambda_event_source_mapping.this.function_name == "wspush-prod-receipts" &&
      contains(aws_lambda_event_source_mapping.this.function_response_types, "ReportBatchItemFailures") &&
      output.max_receive_count == 5 &&
      output.dead_letter_queue_url == "https://sqs.us-east-1.amazonaws.com/123456789012/wspush-prod-ack-timeouts-dlq"
    )
    error_message = "The ack-timeout queue and its dead-letter queue are encrypted with the stack's key; failed checks are reported item by item and dead-lettered after 5 receives."
  }

  # The function dead-letters by itself: a redrive policy would make the queue wait ~25 s
  # for its dead-letter queue at creation. (The mock fills an attribute the configuration
  # leaves unset with a random word, never a JSON object as a configured policy.)
  assert {
    condition     = !startswith(aws_sqs_queue.this.redrive_policy, "{")
    error_message = "The ack-timeout queue has no redrive policy: it must not wait for its dead-letter queue."
  }
}

run "without_a_key_sqs_encrypts" {
  command = plan

  module {
    source = "../receipts"
  }

  variables {
    name                     = "wspush-prod"
    function_name            = "wspush-prod-receipts"
    function_timeout_seconds = 10
  }

  assert {
    condition     = aws_sqs_queue.this.sqs_managed_sse_enabled == true && aws_sqs_queue.dead_letter.sqs_managed_sse_enabled == true
    error_message = "Without a key, both queues use SQS-managed encryption."
  }
}

run "each_function_gets_exactly_its_share" {
  command = plan

  assert {
    condition = (
      [for s in local.function_access.push : s.resources if s.sid == "ScheduleAckTimeouts"][0] == [module.receipts.queue_arn] &&
      [for s in local.function_access.receipts : s.resources if s.sid == "ReadAckTimeouts"][0] == [module.receipts.queue_arn] &&
      [for s in local.function_access.receipts : s.resources if s.sid == "PublishUnacknowledged"][0] == [module.push_schedule.event_bus_arn] &&
      [for s in local.function_access.receipts : s.resources if s.sid == "DeadLetterAckTimeouts"][0] == [module.receipts.dead_letter_queue_arn] &&
      [for s in local.function_access.receipts : s.actions if s.sid == "DeadLetterAckTimeouts"][0] == ["sqs:SendMessage"] &&
      [for s in local.function_access.message : s.actions if s.sid == "AcknowledgePushes"][0] == ["dynamodb:UpdateItem", "dynamodb:GetItem"]
    )
    error_message = "Push sends to the ack-timeout queue, receipts reads it, publishes on the bus and sends to the dead-letter queue, message only updates receipts: on exact ARNs."
  }
}

run "alarms_on_failed_and_unacknowledged_rates" {
  command = plan

  assert {
    condition     = contains(module.monitoring[0].alarm_names, "wspush-prod-failed-rate") && contains(module.monitoring[0].alarm_names, "wspush-prod-unacknowledged-rate")
    error_message = "The failed and unacknowledged rate alarms exist."
  }
}

run "rate_alarms_divide_the_right_metrics" {
  command = plan

  module {
    source = "../monitoring"
  }

  variables {
    name                          = "wspush-prod"
    stage_name                    = "prod"
    function_names                = { push = "wspush-prod-push" }
    push_log_group_name           = "/aws/lambda/wspush-prod-push"
    authorizer_log_group_name     = "/aws/lambda/wspush-prod-authorizer"
    api_id                        = "a1b2c3d4e5"
    table_name                    = "wspush-prod-connections"
    dead_letter_queue_names       = ["wspush-prod-push-dlq"]
    failed_rate_threshold         = 0.1
    unacknowledged_rate_threshold = 0.5
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.rate["failed-rate"].threshold == 0.1 &&
      aws_cloudwatch_metric_alarm.rate["unacknowledged-rate"].threshold == 0.5 &&
      [for q in aws_cloudwatch_metric_alarm.rate["unacknowledged-rate"].metric_query : q.metric[0].metric_name if q.id == "part"][0] == "PushUnacknowledged" &&
      [for q in aws_cloudwatch_metric_alarm.rate["unacknowledged-rate"].metric_query : q.metric[0].metric_name if q.id == "w0"][0] == "PushAckRequested" &&
      [for q in aws_cloudwatch_metric_alarm.rate["failed-rate"].metric_query : q.metric[0].metric_name if q.id == "part"][0] == "PushFailed"
    )
    error_message = "failed-rate divides PushFailed by every push outcome; unacknowledged-rate PushUnacknowledged by PushAckRequested."
  }
}

run "timeout_below_one_second" {
  command = plan

  variables {
    ack_timeout_seconds = 0
  }

  expect_failures = [var.ack_timeout_seconds]
}

run "timeout_past_what_sqs_can_delay" {
  command = plan

  variables {
    ack_timeout_seconds = 901
  }

  expect_failures = [var.ack_timeout_seconds]
}

run "timeout_not_whole" {
  command = plan

  variables {
    ack_timeout_seconds = 1.5
  }

  expect_failures = [var.ack_timeout_seconds]
}

run "rate_threshold_not_a_share" {
  command = plan

  variables {
    failed_rate_alarm_threshold = 2
  }

  expect_failures = [var.failed_rate_alarm_threshold]
}

run "functions_name_the_queues_without_waiting_for_them" {
  command = plan

  # Built from the names: the functions' policies and environment are known before any
  # queue exists, so the apply creates the queues beside the functions.
  assert {
    condition = (
      local.function_definitions.push.environment.ACK_TIMEOUT_QUEUE_URL == "https://sqs.us-east-1.amazonaws.com/123456789012/wspush-prod-ack-timeouts" &&
      local.function_definitions.receipts.environment.ACK_TIMEOUT_DLQ_URL == "https://sqs.us-east-1.amazonaws.com/123456789012/wspush-prod-ack-timeouts-dlq" &&
      local.function_definitions.receipts.environment.ACK_TIMEOUT_MAX_RECEIVE_COUNT == "5" &&
      module.receipts.queue_arn == "arn:aws:sqs:us-east-1:123456789012:wspush-prod-ack-timeouts" &&
      module.receipts.dead_letter_queue_arn == "arn:aws:sqs:us-east-1:123456789012:wspush-prod-ack-timeouts-dlq" &&
      module.push_schedule.dead_letter_queue_arn == "arn:aws:sqs:us-east-1:123456789012:wspush-prod-push-dlq" &&
      module.push_schedule.undelivered_queue_arn == "arn:aws:sqs:us-east-1:123456789012:wspush-prod-events-dlq"
    )
    error_message = "The queues' ARNs and URL are built from their names, in the formats AWS documents."
  }
}
