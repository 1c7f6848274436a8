# Plan-only: the push function's sharding settings reach it, and bad values fail plan.
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  lambda_package = { path = "tests/fixtures/lambda.zip" }
}

run "sharding_settings_reach_the_push_function" {
  command = plan

  variables {
    push_shard_size        = 2000
    push_shard_parallelism = 20
    push_rate_limit        = 8000
  }

  assert {
    condition = (
      local.push_sharding_environment.PUSH_SHARD_SIZE == "2000" &&
      local.push_sharding_environment.PUSH_SHARD_PARALLELISM == "20" &&
      local.push_sharding_environment.PUSH_RATE_LIMIT == "8000" &&
      local.function_definitions.push.environment.PUSH_RATE_LIMIT == "8000"
    )
    error_message = "The shard size, parallelism and rate cap must reach the push function's environment."
  }

  assert {
    condition     = local.push_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:wspush-prod-push"
    error_message = "The push function may invoke itself, by its exact ARN."
  }
}

run "defaults_stay_below_the_account_quota" {
  command = plan

  assert {
    condition     = var.push_rate_limit == 5000 && var.push_shard_size == 5000 && var.push_shard_parallelism == 10
    error_message = "The default cap leaves half of API Gateway's 10,000/s account quota to everything else."
  }
}

run "bad_shard_size" {
  command = plan

  variables {
    push_shard_size = 1
  }

  expect_failures = [var.push_shard_size]
}

run "bad_parallelism" {
  command = plan

  variables {
    push_shard_parallelism = 0
  }

  expect_failures = [var.push_shard_parallelism]
}

run "bad_rate_limit" {
  command = plan

  variables {
    push_rate_limit = 0
  }

  expect_failures = [var.push_rate_limit]
}

run "a_lost_shard_raises_an_alarm" {
  command = plan

  assert {
    condition     = contains(module.monitoring[0].alarm_names, "wspush-prod-push-shards-failed")
    error_message = "PushShardsFailed > 0 must raise an alarm."
  }
}
