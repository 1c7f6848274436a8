# Plan-only: Lambda's recursion detection lets a push hand on past ~16 invocations, and
# the push's own guard (hand-on count and age) reaches the function and validates.
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

# The zips from build.sh, at the repository root.
variables {
  package_dir = "../../../dist"
}

run "the_push_function_may_hand_on_past_lambdas_recursion_limit" {
  command = plan

  assert {
    condition = (
      aws_lambda_function_recursion_config.push.recursive_loop == "Allow" &&
      aws_lambda_function_recursion_config.push.function_name == "wspush-prod-push"
    )
    error_message = "The push function's recursion config must be Allow: a long push hands on more than ~16 times."
  }
}

run "the_hand_on_guard_reaches_the_push_function" {
  command = plan

  variables {
    push_max_hand_ons    = 40
    push_max_age_seconds = 7200
  }

  assert {
    condition = (
      local.function_definitions.push.environment.PUSH_MAX_HAND_ONS == "40" &&
      local.function_definitions.push.environment.PUSH_MAX_AGE_SECONDS == "7200"
    )
    error_message = "The hand-on guard's limits must reach the push function's environment."
  }
}

run "the_guard_has_defaults" {
  command = plan

  assert {
    condition     = var.push_max_hand_ons == 100 && var.push_max_age_seconds == 21600
    error_message = "A push may hand on 100 times and run for 6 hours by default."
  }
}

run "bad_max_hand_ons" {
  command = plan

  variables {
    push_max_hand_ons = 0
  }

  expect_failures = [var.push_max_hand_ons]
}

run "bad_max_age" {
  command = plan

  variables {
    push_max_age_seconds = 30
  }

  expect_failures = [var.push_max_age_seconds]
}
