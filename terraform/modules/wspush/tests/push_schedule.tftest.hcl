# Plan-only: the schedule, its targets' retry policy and undelivered-events queue, and the
# push function's explicit asynchronous behaviour (retries, event age, on-failure destination).
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  lambda_package = { path = "tests/fixtures/lambda.zip" }
}

run "schedule_target" {
  command = plan

  module {
    source = "../push_schedule"
  }

  variables {
    name                = "wspush-prod"
    push_function_name  = "wspush-prod-push"
    push_function_arn   = "arn:aws:lambda:us-east-1:123456789012:function:wspush-prod-push"
    schedule_expression = "rate(5 minutes)"
    scheduled_push      = { broadcast = true, type = "scheduled", payload = { text = "hi" } }
  }

  assert {
    condition     = aws_cloudwatch_event_rule.schedule.schedule_expression == "rate(5 minutes)" && aws_cloudwatch_event_rule.schedule.state == "ENABLED"
    error_message = "The schedule rule must run the configured expression."
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_target.this["schedule"].input) == { broadcast = true, type = "scheduled", payload = { text = "hi" } }
    error_message = "The schedule target must carry the scheduled push as its input."
  }

  assert {
    condition = alltrue([
      for target in aws_cloudwatch_event_target.this :
      target.retry_policy[0].maximum_retry_attempts > 0 && target.dead_letter_config[0].arn == aws_sqs_queue.this["undelivered"].arn
    ])
    error_message = "Every target needs a retry policy, and what EventBridge cannot deliver goes to its own queue (not the push dead-letter queue: one message format per queue)."
  }

  assert {
    condition     = alltrue([for queue in aws_sqs_queue.this : queue.sqs_managed_sse_enabled])
    error_message = "Both queues must be encrypted."
  }

  assert {
    condition = (
      data.aws_iam_policy_document.undelivered.statement[0].resources == toset(["arn:aws:sqs:us-east-1:123456789012:wspush-prod-events-dlq"]) &&
      data.aws_iam_policy_document.undelivered.statement[0].principals == toset([{ type = "Service", identifiers = toset(["events.amazonaws.com"]) }])
    )
    error_message = "Only the undelivered-events queue takes messages from EventBridge."
  }

  # The queue is created with its policy (one wait for SQS to settle, not two), and the
  # push dead-letter queue, which only the push function's role writes to, has none. (The
  # mock fills an attribute the configuration leaves unset with a random word, never a JSON
  # object.)
  assert {
    condition = (
      aws_sqs_queue.this["undelivered"].policy == data.aws_iam_policy_document.undelivered.json &&
      !startswith(aws_sqs_queue.this["dead_letter"].policy, "{")
    )
    error_message = "The undelivered-events queue holds EventBridge's policy itself; the push dead-letter queue holds none."
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.notification.event_pattern) == { "detail-type" = ["wspush.notification"] }
    error_message = "The notification rule must match wspush.notification events."
  }

  assert {
    condition = alltrue([
      for key, permission in aws_lambda_permission.this :
      permission.principal == "events.amazonaws.com" && permission.source_arn == "arn:aws:events:us-east-1:123456789012:rule/wspush-prod-push-schedule"
    ])
    error_message = "The push function may be invoked by these rules only."
  }
}

run "push_failures_become_invocation_records_in_the_dead_letter_queue" {
  command = plan

  assert {
    condition = (
      module.functions["push"].async_config.maximum_retry_attempts == 0 &&
      module.functions["push"].async_config.maximum_event_age_in_seconds == 3600 &&
      module.functions["push"].async_config.on_failure_destination == module.push_schedule.dead_letter_queue_arn
    )
    error_message = "A failed asynchronous push must not be retried by default, and its invocation record must go to the push dead-letter queue."
  }

  assert {
    condition     = alltrue([for role in ["authorizer", "connect", "disconnect", "message"] : module.functions[role].async_config == null])
    error_message = "Only push is invoked asynchronously."
  }
}

run "push_retries_are_configurable_within_lambda_limits" {
  command = plan

  variables {
    push_retry_attempts        = 2
    push_max_event_age_seconds = 600
  }

  assert {
    condition     = module.functions["push"].async_config.maximum_retry_attempts == 2 && module.functions["push"].async_config.maximum_event_age_in_seconds == 600
    error_message = "push_retry_attempts and push_max_event_age_seconds must reach the function's event invoke config."
  }
}

run "push_retries_beyond_lambda_limits_are_refused" {
  command = plan

  variables {
    push_retry_attempts        = 3
    push_max_event_age_seconds = 30
  }

  expect_failures = [var.push_retry_attempts, var.push_max_event_age_seconds]
}
