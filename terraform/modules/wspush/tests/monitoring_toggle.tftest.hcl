# Plan-only: monitoring is on by default in the root and can be turned off.
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  lambda_package             = { path = "tests/fixtures/lambda.zip" }
  manage_api_gateway_account = false
}

run "on_by_default" {
  command = plan

  assert {
    condition     = length(module.monitoring) == 1 && output.alarm_topic_arn == "arn:aws:sns:us-east-1:123456789012:wspush-prod-alarms"
    error_message = "Monitoring must be on by default."
  }
}

run "turned_off" {
  command = plan

  variables {
    monitoring_enabled = false
  }

  assert {
    condition     = length(module.monitoring) == 0 && output.dashboard_url == null
    error_message = "monitoring_enabled = false must create no alarms and no dashboard."
  }
}
