# Plan-only: the schedule, its target's retry policy and dead-letter queue.
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

# The zips from build.sh, at the repository root.
variables {
  package_dir = "../../../dist"
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
      target.retry_policy[0].maximum_retry_attempts > 0 && target.dead_letter_config[0].arn == aws_sqs_queue.dead_letter.arn
    ])
    error_message = "Every target needs a retry policy and the dead-letter queue."
  }

  assert {
    condition     = aws_sqs_queue.dead_letter.sqs_managed_sse_enabled
    error_message = "The dead-letter queue must be encrypted."
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

run "push_function_dead_letters_its_own_failures" {
  command = plan

  variables {
    manage_api_gateway_account = false
  }

  assert {
    condition     = module.push_schedule.dead_letter_queue_arn == "arn:aws:sqs:us-east-1:123456789012:wspush-prod-push-dlq"
    error_message = "The push pipeline must have a dead-letter queue."
  }
}
