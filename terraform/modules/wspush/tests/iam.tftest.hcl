# Plan-only: every function's policy names exact ARNs and only the actions it needs.
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  lambda_package = { path = "tests/fixtures/lambda.zip" }
}

run "least_privilege" {
  command = plan

  assert {
    condition = (
      length(data.aws_iam_policy_document.function["connect"].statement) == 2 &&
      data.aws_iam_policy_document.function["connect"].statement[0].actions == toset(["dynamodb:PutItem"]) &&
      data.aws_iam_policy_document.function["connect"].statement[0].resources == toset([module.connections_table.table_arn]) &&
      data.aws_iam_policy_document.function["connect"].statement[1].actions == toset(["events:PutEvents"]) &&
      data.aws_iam_policy_document.function["connect"].statement[1].resources == toset([module.push_schedule.event_bus_arn])
    )
    error_message = "connect may only PutItem on the table and publish lifecycle events to its own bus."
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.function["disconnect"].statement) == 4 &&
      data.aws_iam_policy_document.function["disconnect"].statement[0].actions == toset(["dynamodb:Query"]) &&
      data.aws_iam_policy_document.function["disconnect"].statement[0].resources == toset([module.connections_table.connection_index_arn]) &&
      data.aws_iam_policy_document.function["disconnect"].statement[1].actions == toset(["dynamodb:DeleteItem"]) &&
      data.aws_iam_policy_document.function["disconnect"].statement[1].resources == toset([module.connections_table.table_arn]) &&
      data.aws_iam_policy_document.function["disconnect"].statement[2].actions == toset(["dynamodb:UpdateItem"]) &&
      data.aws_iam_policy_document.function["disconnect"].statement[2].resources == toset([module.history_table.table_arn]) &&
      data.aws_iam_policy_document.function["disconnect"].statement[3].actions == toset(["events:PutEvents"]) &&
      data.aws_iam_policy_document.function["disconnect"].statement[3].resources == toset([module.push_schedule.event_bus_arn])
    )
    error_message = "disconnect may only Query the connectionId index, DeleteItem on the table (one by one: lifecycle events count each), count occupancy and publish to its bus."
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.function["message"].statement) == 9 &&
      data.aws_iam_policy_document.function["message"].statement[0].actions == toset(["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"]) &&
      data.aws_iam_policy_document.function["message"].statement[0].resources == toset([module.connections_table.table_arn]) &&
      data.aws_iam_policy_document.function["message"].statement[1].actions == toset(["execute-api:ManageConnections"]) &&
      data.aws_iam_policy_document.function["message"].statement[1].resources == toset(["arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/@connections/*"]) &&
      data.aws_iam_policy_document.function["message"].statement[2].actions == toset(["dynamodb:Query"]) &&
      data.aws_iam_policy_document.function["message"].statement[2].resources == toset([module.connections_table.table_arn]) &&
      data.aws_iam_policy_document.function["message"].statement[3].actions == toset(["dynamodb:GetItem", "dynamodb:Query"]) &&
      data.aws_iam_policy_document.function["message"].statement[3].resources == toset([module.history_table.table_arn]) &&
      data.aws_iam_policy_document.function["message"].statement[4].resources == toset([module.history_table.table_arn]) &&
      data.aws_iam_policy_document.function["message"].statement[5].resources == toset([module.push_schedule.event_bus_arn]) &&
      data.aws_iam_policy_document.function["message"].statement[6].actions == toset(["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"]) &&
      data.aws_iam_policy_document.function["message"].statement[6].resources == toset([module.history_table.table_arn]) &&
      data.aws_iam_policy_document.function["message"].statement[7].actions == toset(["dynamodb:Query"]) &&
      data.aws_iam_policy_document.function["message"].statement[7].resources == toset([module.connections_table.connection_index_arn]) &&
      data.aws_iam_policy_document.function["message"].statement[8].actions == toset(["lambda:InvokeFunction"]) &&
      data.aws_iam_policy_document.function["message"].statement[8].resources == toset([local.push_function_arn])
    )
    error_message = "message may only write subscriptions, POST to @connections on its own stage, read presence and history, count occupancy, publish to its bus, number client publishes, forget gone subscribers and hand large audiences to its own push function."
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.function["push"].statement) == 10 &&
      data.aws_iam_policy_document.function["push"].statement[0].actions == toset(["dynamodb:Query"]) &&
      data.aws_iam_policy_document.function["push"].statement[0].resources == toset([module.connections_table.table_arn, module.connections_table.connection_index_arn]) &&
      data.aws_iam_policy_document.function["push"].statement[1].actions == toset(["dynamodb:Scan"]) &&
      data.aws_iam_policy_document.function["push"].statement[1].resources == toset([module.connections_table.table_arn]) &&
      data.aws_iam_policy_document.function["push"].statement[2].actions == toset(["dynamodb:DeleteItem"]) &&
      data.aws_iam_policy_document.function["push"].statement[3].actions == toset(["execute-api:ManageConnections"]) &&
      data.aws_iam_policy_document.function["push"].statement[3].resources == toset(["arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/@connections/*"]) &&
      data.aws_iam_policy_document.function["push"].statement[4].actions == toset(["lambda:InvokeFunction"]) &&
      data.aws_iam_policy_document.function["push"].statement[4].resources == toset(["arn:aws:lambda:us-east-1:123456789012:function:wspush-prod-push"]) &&
      data.aws_iam_policy_document.function["push"].statement[5].actions == toset(["sqs:SendMessage"]) &&
      data.aws_iam_policy_document.function["push"].statement[5].resources == toset([module.push_schedule.dead_letter_queue_arn]) &&
      data.aws_iam_policy_document.function["push"].statement[6].actions == toset(["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"]) &&
      data.aws_iam_policy_document.function["push"].statement[6].resources == toset([module.history_table.table_arn]) &&
      data.aws_iam_policy_document.function["push"].statement[7].resources == toset([module.history_table.table_arn]) &&
      data.aws_iam_policy_document.function["push"].statement[8].actions == toset(["events:PutEvents"]) &&
      data.aws_iam_policy_document.function["push"].statement[9].actions == toset(["dynamodb:BatchGetItem"]) &&
      data.aws_iam_policy_document.function["push"].statement[9].resources == toset([module.connections_table.table_arn])
    )
    error_message = "push may only read the audience (Scan on the table, never the index), delete gone rows, POST to @connections on its own stage, invoke itself (exact ARN) and record failures in its dead-letter queue."
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.function["authorizer"].statement) == 1 &&
      data.aws_iam_policy_document.function["authorizer"].statement[0].actions == toset(["ssm:GetParameter"]) &&
      data.aws_iam_policy_document.function["authorizer"].statement[0].resources == toset([module.token_secret.parameter_arn])
    )
    error_message = "authorizer may only read its one parameter."
  }

  assert {
    condition = alltrue(flatten([
      for document in data.aws_iam_policy_document.function : [
        for statement in document.statement : [
          for resource in statement.resources : resource != "*" && startswith(resource, "arn:aws:")
        ]
      ]
    ]))
    error_message = "Every function statement must name an exact ARN, never *."
  }
}

run "role_names_carry_the_region" {
  command = plan

  assert {
    condition     = alltrue([for role, function in module.functions : function.role_name == "wspush-prod-${role}-us-east-1"])
    error_message = "IAM role names are account-global: each must carry the region, so one name and stage can be deployed in two regions."
  }
}

run "demo_mode_lets_message_find_the_connection_owner_in_the_index_only" {
  command = plan

  variables {
    auth_disabled = true
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.function["message"].statement) == 10 &&
      data.aws_iam_policy_document.function["message"].statement[6].actions == toset(["dynamodb:Query"]) &&
      data.aws_iam_policy_document.function["message"].statement[6].resources == toset([module.connections_table.connection_index_arn])
    )
    error_message = "Without an authorizer, message may Query the connectionId index, nothing more."
  }
}

run "lifecycle_events_off_drop_the_bus_and_occupancy_grants" {
  command = plan

  variables {
    lifecycle_events_enabled = false
  }

  assert {
    condition = alltrue(flatten([
      for document in data.aws_iam_policy_document.function : [
        for statement in document.statement : !contains(["PublishLifecycleEvents", "CountTopicOccupancy"], statement.sid)
      ]
    ]))
    error_message = "With lifecycle events off, no function may publish to the bus or count occupancy."
  }

  assert {
    condition     = data.aws_iam_policy_document.function["disconnect"].statement[1].actions == toset(["dynamodb:DeleteItem", "dynamodb:BatchWriteItem"])
    error_message = "With lifecycle events off, disconnect deletes the connection row, then its subscriptions in batches."
  }

  assert {
    condition     = local.common_environment.LIFECYCLE_EVENT_BUS == ""
    error_message = "With lifecycle events off, the functions must get no bus to publish to."
  }
}

run "a_function_role_name_over_iams_limit_is_refused_at_plan" {
  command = plan

  module {
    source = "../lambda_function"
  }

  variables {
    function_name = "orders-a-long-brand-production-eu-west-place-order-v2-xy"
    handler       = "h.handler"
    package       = { path = "tests/fixtures/lambda.zip" }
    policy_json   = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
  }

  expect_failures = [aws_iam_role.this]
}
