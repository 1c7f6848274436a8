# Plan-only: the per-connection budget's settings reach the message function, and values
# out of range fail the plan.
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

# The zips from build.sh, at the repository root.
variables {
  package_dir = "../../../dist"
}

run "budget_defaults_reach_the_message_function" {
  command = plan

  assert {
    condition = (
      local.function_definitions.message.environment["CONNECTION_BUDGET_PER_SECOND"] == "10" &&
      local.function_definitions.message.environment["CONNECTION_BUDGET_BURST"] == "50"
    )
    error_message = "The message function must get the default budget: 10 units a second, 50 at once."
  }
}

run "budget_settings_reach_the_message_function" {
  command = plan

  variables {
    connection_budget_per_second = 3
    connection_budget_burst      = 12
  }

  assert {
    condition = (
      local.function_definitions.message.environment["CONNECTION_BUDGET_PER_SECOND"] == "3" &&
      local.function_definitions.message.environment["CONNECTION_BUDGET_BURST"] == "12"
    )
    error_message = "connection_budget_per_second and connection_budget_burst must reach the message function."
  }
}

run "budget_rate_out_of_range" {
  command = plan

  variables {
    connection_budget_per_second = 0.5
  }

  expect_failures = [var.connection_budget_per_second]
}

run "budget_burst_too_small_for_one_largest_push" {
  command = plan

  variables {
    connection_budget_burst = 4
  }

  expect_failures = [var.connection_budget_burst]
}
