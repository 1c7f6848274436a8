# Plan-only: the functions' log level, a cost knob (log bytes per push).
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  lambda_package = { path = "tests/fixtures/lambda.zip" }
}

run "info_by_default" {
  command = plan

  assert {
    condition     = local.common_environment.POWERTOOLS_LOG_LEVEL == "INFO"
    error_message = "Every function logs at INFO unless told otherwise."
  }
}

run "warning_keeps_only_problems" {
  command = plan

  variables {
    log_level = "WARNING"
  }

  assert {
    condition     = local.common_environment.POWERTOOLS_LOG_LEVEL == "WARNING"
    error_message = "log_level must reach every function."
  }
}

run "an_unknown_level_is_refused" {
  command = plan

  variables {
    log_level = "verbose"
  }

  expect_failures = [var.log_level]
}
