# Plan-only: publishing from a client. Its settings reach the message function, the hook
# and the event bus are granted only when configured (the hook on exactly its ARN), and
# bad values fail the plan.
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  lambda_package = { path = "tests/fixtures/lambda.zip" }
}

run "defaults_reach_the_message_function_with_no_hook_and_no_events" {
  command = plan

  assert {
    condition = (
      local.function_definitions.message.environment["CLIENT_PUBLISH_RATE_PER_SECOND"] == "10" &&
      local.function_definitions.message.environment["CLIENT_PUBLISH_BURST"] == "20" &&
      local.function_definitions.message.environment["PUBLIC_PUBLISH_PATTERNS"] == "" &&
      local.function_definitions.message.environment["CLIENT_PUBLISH_HOOK_ARN"] == "" &&
      local.function_definitions.message.environment["CLIENT_PUBLISH_EVENT_PATTERNS"] == "" &&
      local.function_definitions.message.environment["CLIENT_PUBLISH_EVENT_BUS"] == "" &&
      local.function_definitions.message.environment["PUSH_FUNCTION_NAME"] == "wspush-prod-push" &&
      local.function_definitions.message.environment["CLIENT_PUBLISH_INLINE_TARGETS"] == "100"
    )
    error_message = "By default a connection publishes 10 a second (20 at once), nothing is public, and there is no hook and no event."
  }

  assert {
    condition = alltrue([
      for statement in data.aws_iam_policy_document.function["message"].statement :
      !contains(["CallClientPublishHook", "PublishClientPublishedEvents"], statement.sid)
    ])
    error_message = "Without a hook or event patterns, message may call no hook and put no client published event."
  }

  assert {
    condition     = local.routes["publish"] == "message" && contains(keys(output.route_response_ids), "publish")
    error_message = "publish is a two-way route of the message function: its reply is the route response."
  }
}

run "settings_hook_and_events_reach_the_message_function" {
  command = plan

  variables {
    public_publish_patterns        = ["lobby", "public.*"]
    client_publish_rate_per_second = 3
    client_publish_burst           = 6
    client_publish_hook_arn        = "arn:aws:lambda:us-east-1:123456789012:function:moderate"
    client_publish_event_patterns  = ["room.*"]
    push_shard_size                = 40
  }

  assert {
    condition = (
      local.function_definitions.message.environment["PUBLIC_PUBLISH_PATTERNS"] == "lobby,public.*" &&
      local.function_definitions.message.environment["CLIENT_PUBLISH_RATE_PER_SECOND"] == "3" &&
      local.function_definitions.message.environment["CLIENT_PUBLISH_BURST"] == "6" &&
      local.function_definitions.message.environment["CLIENT_PUBLISH_HOOK_ARN"] == "arn:aws:lambda:us-east-1:123456789012:function:moderate" &&
      local.function_definitions.message.environment["CLIENT_PUBLISH_EVENT_PATTERNS"] == "room.*" &&
      local.function_definitions.message.environment["CLIENT_PUBLISH_EVENT_BUS"] == module.push_schedule.event_bus_name &&
      local.function_definitions.message.environment["CLIENT_PUBLISH_INLINE_TARGETS"] == "40"
    )
    error_message = "Every client publish setting must reach the message function; the inline bound never exceeds push_shard_size."
  }

  assert {
    condition = length([
      for statement in data.aws_iam_policy_document.function["message"].statement : statement
      if statement.sid == "CallClientPublishHook" &&
      statement.actions == toset(["lambda:InvokeFunction"]) &&
      statement.resources == toset(["arn:aws:lambda:us-east-1:123456789012:function:moderate"])
    ]) == 1
    error_message = "message may invoke exactly the hook's ARN, nothing else."
  }

  assert {
    condition = length([
      for statement in data.aws_iam_policy_document.function["message"].statement : statement
      if statement.sid == "PublishClientPublishedEvents" &&
      statement.resources == toset([module.push_schedule.event_bus_arn])
    ]) == 1
    error_message = "With event patterns, message may put events on its own bus only."
  }
}

run "a_hook_that_is_not_a_lambda_arn_fails_the_plan" {
  command = plan

  variables {
    client_publish_hook_arn = "moderate"
  }

  expect_failures = [var.client_publish_hook_arn]
}

run "a_bad_public_publish_pattern_fails_the_plan" {
  command = plan

  variables {
    public_publish_patterns = ["room *"]
  }

  expect_failures = [var.public_publish_patterns]
}

run "a_publish_rate_out_of_range_fails_the_plan" {
  command = plan

  variables {
    client_publish_rate_per_second = 0
    client_publish_burst           = 0.5
  }

  expect_failures = [var.client_publish_rate_per_second, var.client_publish_burst]
}

run "pattern_lists_too_large_for_the_environment_fail_the_plan" {
  command = plan

  variables {
    client_publish_event_patterns = [for i in range(200) : "events.topic-number-${i}"]
  }

  expect_failures = [var.client_publish_event_patterns]
}

run "publish_is_reserved_for_wspush" {
  command = plan

  variables {
    custom_routes = {
      publish = {
        function_name = "mine"
        invoke_arn    = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:mine/invocations"
      }
    }
  }

  expect_failures = [var.custom_routes]
}
