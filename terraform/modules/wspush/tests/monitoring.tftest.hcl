# Plan-only: every alarm watches the right metric with the right threshold.
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  lambda_package = { path = "tests/fixtures/lambda.zip" }
  name           = "wspush-prod"
  stage_name     = "prod"
  function_names = {
    authorizer = "wspush-prod-authorizer"
    connect    = "wspush-prod-connect"
    disconnect = "wspush-prod-disconnect"
    message    = "wspush-prod-message"
    push       = "wspush-prod-push"
  }
  push_log_group_name       = "/aws/lambda/wspush-prod-push"
  authorizer_log_group_name = "/aws/lambda/wspush-prod-authorizer"
  api_id                    = "a1b2c3d4e5"
  table_name                = "wspush-prod-connections"
  dead_letter_queue_names   = ["wspush-prod-push-dlq", "wspush-prod-events-dlq"]
}

run "alarms" {
  command = plan

  module {
    source = "../monitoring"
  }

  assert {
    condition = length([for alarm in aws_cloudwatch_metric_alarm.threshold : alarm if alarm.namespace == "AWS/Lambda"]) == 10 && alltrue([
      for key, alarm in aws_cloudwatch_metric_alarm.threshold :
      alarm.threshold == 0 && alarm.comparison_operator == "GreaterThanThreshold" &&
      alarm.treat_missing_data == "notBreaching" && alarm.alarm_actions == toset([aws_sns_topic.alarms.arn])
    ]) && alltrue([for role in ["authorizer", "connect", "disconnect", "message", "push"] : aws_cloudwatch_metric_alarm.threshold["${role}-errors"].metric_name == "Errors" && aws_cloudwatch_metric_alarm.threshold["${role}-throttles"].metric_name == "Throttles"])
    error_message = "Each of the five functions needs an errors alarm and a throttles alarm (> 0) to the topic."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.threshold["push-errors"].dimensions == tomap({ FunctionName = "wspush-prod-push" })
    error_message = "Function alarms must watch their own function."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.threshold["push-failed"].namespace == "wspush" &&
      aws_cloudwatch_metric_alarm.threshold["push-failed"].metric_name == "PushFailed" &&
      aws_cloudwatch_metric_alarm.threshold["push-failed"].dimensions == tomap({ service = "wspush", stage = "prod" }) &&
      aws_cloudwatch_metric_alarm.threshold["push-failed"].threshold == 0 &&
      aws_cloudwatch_metric_alarm.threshold["push-failed"].statistic == "Sum"
    )
    error_message = "push failed > 0 must alarm on the PushFailed metric of this stage."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.gone_rate.threshold == 0.5 &&
      anytrue([for query in aws_cloudwatch_metric_alarm.gone_rate.metric_query : query.return_data == true && strcontains(coalesce(query.expression, "-"), "gone / targeted")]) &&
      toset([for query in aws_cloudwatch_metric_alarm.gone_rate.metric_query : query.id]) == toset(["gone_rate", "gone", "targeted"])
    )
    error_message = "The 410 alarm must compare PushGone / PushTargeted to the threshold."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.threshold["dead-letters"].namespace == "AWS/SQS" &&
      aws_cloudwatch_metric_alarm.threshold["dead-letters"].metric_name == "ApproximateNumberOfMessagesVisible" &&
      aws_cloudwatch_metric_alarm.threshold["dead-letters"].dimensions == tomap({ QueueName = "wspush-prod-push-dlq" }) &&
      aws_cloudwatch_metric_alarm.threshold["dead-letters"].threshold == 0
    )
    error_message = "DLQ depth > 0 must alarm."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.threshold["dead-letters-1"].dimensions == tomap({ QueueName = "wspush-prod-events-dlq" }) && aws_cloudwatch_metric_alarm.threshold["dead-letters-1"].threshold == 0
    error_message = "Undelivered events waiting in the second queue must alarm too."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.threshold["api-integration-errors"].metric_name == "IntegrationError" &&
      aws_cloudwatch_metric_alarm.threshold["api-execution-errors"].metric_name == "ExecutionError" &&
      alltrue([for key in ["api-integration-errors", "api-execution-errors"] : aws_cloudwatch_metric_alarm.threshold[key].namespace == "AWS/ApiGateway" && aws_cloudwatch_metric_alarm.threshold[key].dimensions == tomap({ ApiId = "a1b2c3d4e5", Stage = "prod" })])
    )
    error_message = "API Gateway integration and execution errors must alarm for this API and stage."
  }

  assert {
    condition = toset(flatten([
      for query in aws_cloudwatch_metric_alarm.table_throttles.metric_query : [for metric in query.metric : metric.metric_name]
    ])) == toset(["ReadThrottleEvents", "WriteThrottleEvents"])
    error_message = "Table throttles must cover reads and writes."
  }

  assert {
    condition     = aws_sns_topic.alarms.kms_master_key_id == null && length(aws_sns_topic_subscription.email) == 0
    error_message = "Without a customer-managed key the alarm topic must not be under the AWS-managed aws/sns key (CloudWatch cannot use it), and has no subscription without an email."
  }

  assert {
    condition = (
      aws_cloudwatch_query_definition.failed_pushes_by_entity.log_group_names == tolist(["/aws/lambda/wspush-prod-push"]) &&
      strcontains(aws_cloudwatch_query_definition.failed_pushes_by_entity.query_string, "failed > 0") &&
      strcontains(aws_cloudwatch_query_definition.denied_connects_by_reason.query_string, "by reason")
    )
    error_message = "The two saved queries must read the right log groups."
  }

  assert {
    condition     = strcontains(aws_cloudwatch_dashboard.this.dashboard_body, "RUNNING_SUM(opened - closed)") && strcontains(aws_cloudwatch_dashboard.this.dashboard_body, "ApproximateNumberOfMessagesVisible")
    error_message = "The dashboard must show live connections and DLQ depth."
  }
}

run "topic_under_a_customer_managed_key" {
  command = plan

  module {
    source = "../monitoring"
  }

  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition     = aws_sns_topic.alarms.kms_master_key_id == var.kms_key_arn && !startswith(aws_sns_topic.alarms.kms_master_key_id, "alias/aws/")
    error_message = "With a customer-managed key (whose policy grants CloudWatch) the alarm topic uses it."
  }
}

run "email_subscription" {
  command = plan

  module {
    source = "../monitoring"
  }

  variables {
    alarm_email = "oncall@example.com"
  }

  assert {
    condition     = aws_sns_topic_subscription.email[0].endpoint == "oncall@example.com" && aws_sns_topic_subscription.email[0].protocol == "email"
    error_message = "alarm_email must subscribe to the topic."
  }
}

run "bad_gone_rate_threshold" {
  command = plan

  module {
    source = "../monitoring"
  }

  variables {
    gone_rate_threshold = 5
  }

  expect_failures = [var.gone_rate_threshold]
}

run "identity_provider_alarm" {
  command = plan

  module {
    source = "../monitoring"
  }

  variables {
    identity_provider_alarm = true
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.threshold["jwks-fetch-failed"].metric_name == "JwksFetchFailed" &&
      aws_cloudwatch_metric_alarm.threshold["jwks-fetch-failed"].namespace == "wspush" &&
      aws_cloudwatch_metric_alarm.threshold["jwks-fetch-failed"].dimensions == tomap({ service = "wspush", stage = "prod" })
    )
    error_message = "An alarm watches failed JWKS fetches when the stack trusts identity providers."
  }
}

run "the_dashboard_name_carries_the_region" {
  command = plan

  module {
    source = "../monitoring"
  }

  assert {
    condition     = aws_cloudwatch_dashboard.this.dashboard_name == "wspush-prod-us-east-1"
    error_message = "CloudWatch dashboards are global to the account: the name must carry the region, or a second region's deployment collides."
  }
}
