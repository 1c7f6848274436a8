# Plan-only: bad variables fail plan with a readable message.
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  lambda_package = { path = "tests/fixtures/lambda.zip" }
}

run "bad_stage_name" {
  command = plan

  variables {
    stage_name = "prod stage!"
  }

  expect_failures = [var.stage_name]
}

run "bad_schedule_expression" {
  command = plan

  variables {
    schedule_expression = "every minute"
  }

  expect_failures = [var.schedule_expression]
}

run "rate_with_zero_is_refused" {
  command = plan

  variables {
    schedule_expression = "rate(0 minutes)"
  }

  expect_failures = [var.schedule_expression]
}

run "bad_retention_days" {
  command = plan

  variables {
    log_retention_days = 10
  }

  expect_failures = [var.log_retention_days]
}

run "two_scheduled_audiences" {
  command = plan

  variables {
    scheduled_audience = { broadcast = true, topic = "news" }
  }

  expect_failures = [var.scheduled_audience]
}

run "good_cron_expression_plans" {
  command = plan

  variables {
    schedule_expression        = "cron(0 12 * * ? *)"
    manage_api_gateway_account = false
  }

  assert {
    condition     = var.schedule_expression == "cron(0 12 * * ? *)"
    error_message = "A valid cron expression must be accepted."
  }
}

run "name_and_stage_too_long_for_role_names" {
  command = plan

  variables {
    name       = "a-very-long-name-for-pushes"
    stage_name = "production-eu"
  }

  expect_failures = [var.stage_name]
}

run "longest_allowed_name_and_stage_fit_every_limit" {
  command = plan

  variables {
    name       = "a-very-long-name-for-pushes"
    stage_name = "production"
  }

  assert {
    condition     = alltrue([for role, function in module.functions : length(function.role_name) <= 64 - 14 + length("us-east-1") && length(function.function_name) <= 64])
    error_message = "At 38 characters of name-stage, role names (with the longest region) and function names must fit 64 characters."
  }

  assert {
    condition     = length(module.push_schedule.schedule_rule_name) <= 64 && length(module.push_schedule.notification_rule_name) <= 64
    error_message = "Rule names must fit EventBridge's 64 characters."
  }
}

run "scheduled_pushes_are_off_by_default" {
  command = plan

  assert {
    condition     = !var.schedule_enabled && module.push_schedule.schedule_rule_name == "wspush-prod-push-schedule"
    error_message = "A default deploy must not broadcast on a schedule (a billed message per connection per run); the rule exists, disabled."
  }
}

run "api_gateway_account_role_is_off_by_default" {
  command = plan

  assert {
    condition     = !var.manage_api_gateway_account
    error_message = "The account-wide API Gateway logging role must not be managed unless asked for."
  }
}

run "short_token_secret_is_refused" {
  command = plan

  variables {
    token_secret = "too-short"
  }

  expect_failures = [var.token_secret]
}

run "every_key_of_a_rotation_secret_must_be_long" {
  command = plan

  variables {
    token_secret = "0123456789abcdef0123456789abcdef\nshort"
  }

  expect_failures = [var.token_secret]
}

run "bad_public_topic_pattern" {
  command = plan

  variables {
    public_topic_patterns = ["news", "bad topic*"]
  }

  expect_failures = [var.public_topic_patterns]
}

run "subscription_limit_out_of_range" {
  command = plan

  variables {
    max_subscriptions_per_connection = 5000
  }

  expect_failures = [var.max_subscriptions_per_connection]
}

run "topic_settings_reach_the_functions" {
  command = plan

  variables {
    token_secret                     = "0123456789abcdef0123456789abcdef\nfedcba9876543210fedcba9876543210"
    public_topic_patterns            = ["news", "public.*"]
    max_subscriptions_per_connection = 20
    token_audience                   = "wspush"
  }

  assert {
    condition = (
      local.function_definitions.message.environment["PUBLIC_TOPIC_PATTERNS"] == "news,public.*" &&
      local.function_definitions.message.environment["MAX_SUBSCRIPTIONS_PER_CONNECTION"] == "20" &&
      local.function_definitions.authorizer.environment["TOKEN_AUDIENCE"] == "wspush" &&
      local.function_definitions.authorizer.environment["TOKEN_ISSUER"] == ""
    )
    error_message = "Public patterns and the limit reach message; audience and issuer reach the authorizer."
  }
}

# Lambda allows 4 KB of environment variables per function: the values users size are
# held to 3 KB at plan time, and the rest of any function's variables fit in the other 1 KB.
run "a_scheduled_message_over_the_environment_budget_is_refused" {
  command = plan

  variables {
    scheduled_message = { text = join("", [for i in range(800) : "\"é"]) }
  }

  expect_failures = [var.scheduled_message]
}

run "origins_and_token_claims_over_the_authorizers_budget_are_refused" {
  command = plan

  variables {
    allowed_origins = [for i in range(150) : "https://app-${i}.example.com"]
    token_audience  = "wspush"
  }

  expect_failures = [var.allowed_origins]
}

run "public_topic_patterns_over_the_message_functions_budget_are_refused" {
  command = plan

  variables {
    public_topic_patterns = [for i in range(200) : "public.topic-${i}.*"]
  }

  expect_failures = [var.public_topic_patterns]
}

run "every_environment_fits_4_kb_with_the_largest_allowed_values" {
  command = plan

  variables {
    name                  = "a-very-long-name-for-pushes"
    stage_name            = "production"
    scheduled_message     = { text = format("%3040s", "x") }
    allowed_origins       = [for i in range(100) : "https://app-${format("%03d", i)}.ex.com"]
    token_audience        = "a"
    public_topic_patterns = [for i in range(190) : "public.topic${format("%03d", i)}"]
  }

  assert {
    # 14 bytes spare: the mocked region (us-east-1) is 5 shorter than the longest, and it
    # appears in the @connections endpoint.
    condition     = alltrue([for name, function in local.function_definitions : length(jsonencode(merge(local.common_environment, function.environment))) <= 4096 - 14])
    error_message = "With every user-sized value at its limit, each function's environment must stay within Lambda's 4 KB."
  }
}
