# Plan-only: the rule matches exactly the undelivered events of this stack's bus, and only
# it may send to the offline queues.
mock_provider "aws" {
  override_during = plan

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
}

variables {
  lambda_package = { path = "../../dist/wspush.zip" }
}

run "the_rule_sends_undelivered_pushes_to_the_queue" {
  command = plan

  assert {
    condition = (
      jsondecode(aws_cloudwatch_event_rule.undelivered.event_pattern)["detail-type"] == ["wspush.push.undelivered", "wspush.push.unacknowledged"] &&
      jsondecode(aws_cloudwatch_event_rule.undelivered.event_pattern).source == ["wspush"] &&
      aws_cloudwatch_event_rule.undelivered.event_bus_name == "inbox-prod"
    )
    error_message = "The rule matches wspush.push.undelivered and wspush.push.unacknowledged from wspush on the stack's bus."
  }

  assert {
    condition     = aws_sqs_queue.offline.sqs_managed_sse_enabled && aws_sqs_queue.offline_dead_letter.sqs_managed_sse_enabled
    error_message = "Both queues are encrypted."
  }

  assert {
    condition     = module.wspush.function_names.push == "inbox-prod-push"
    error_message = "The example's name and stage reach the module."
  }
}
