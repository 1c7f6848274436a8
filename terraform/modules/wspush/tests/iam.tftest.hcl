# Plan-only: every function's policy names exact ARNs and only the actions it needs.
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

# The zips from build.sh, at the repository root.
variables {
  package_dir = "../../../dist"
}

run "least_privilege" {
  command = plan

  assert {
    condition = (
      length(data.aws_iam_policy_document.connect.statement) == 1 &&
      data.aws_iam_policy_document.connect.statement[0].actions == toset(["dynamodb:PutItem"]) &&
      data.aws_iam_policy_document.connect.statement[0].resources == toset([module.connections_table.table_arn]) &&
      data.aws_iam_policy_document.connect.source_policy_documents == tolist([data.aws_iam_policy_document.publish_lifecycle_events.json])
    )
    error_message = "connect may only PutItem on the table and publish to its own bus."
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.disconnect.statement) == 2 &&
      data.aws_iam_policy_document.disconnect.statement[0].actions == toset(["dynamodb:Query"]) &&
      data.aws_iam_policy_document.disconnect.statement[0].resources == toset([module.connections_table.connection_index_arn]) &&
      data.aws_iam_policy_document.disconnect.statement[1].actions == toset(["dynamodb:DeleteItem"]) &&
      data.aws_iam_policy_document.disconnect.statement[1].resources == toset([module.connections_table.table_arn]) &&
      data.aws_iam_policy_document.disconnect.source_policy_documents == local.lifecycle_policies
    )
    error_message = "disconnect may only Query the connectionId index, DeleteItem on the table, count occupancy and publish to its bus."
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.message.statement) == 4 &&
      data.aws_iam_policy_document.message.statement[0].actions == toset(["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]) &&
      data.aws_iam_policy_document.message.statement[0].resources == toset([module.connections_table.table_arn]) &&
      data.aws_iam_policy_document.message.statement[1].actions == toset(["dynamodb:Query"]) &&
      data.aws_iam_policy_document.message.statement[1].resources == toset([module.connections_table.table_arn]) &&
      data.aws_iam_policy_document.message.statement[2].actions == toset(["dynamodb:GetItem", "dynamodb:Query"]) &&
      data.aws_iam_policy_document.message.statement[2].resources == toset([module.history_table.table_arn]) &&
      data.aws_iam_policy_document.message.statement[3].actions == toset(["execute-api:ManageConnections"]) &&
      data.aws_iam_policy_document.message.statement[3].resources == toset(["arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/@connections/*"]) &&
      data.aws_iam_policy_document.message.source_policy_documents == local.lifecycle_policies
    )
    error_message = "message may only write subscriptions, read presence and history, POST to @connections on its own stage, count occupancy and publish to its bus."
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.push.statement) == 5 &&
      data.aws_iam_policy_document.push.statement[0].actions == toset(["dynamodb:Query", "dynamodb:Scan"]) &&
      data.aws_iam_policy_document.push.statement[0].resources == toset([module.connections_table.table_arn, module.connections_table.connection_index_arn]) &&
      data.aws_iam_policy_document.push.statement[1].actions == toset(["dynamodb:DeleteItem"]) &&
      data.aws_iam_policy_document.push.statement[2].actions == toset(["execute-api:ManageConnections"]) &&
      data.aws_iam_policy_document.push.statement[2].resources == toset(["arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/@connections/*"]) &&
      data.aws_iam_policy_document.push.statement[3].actions == toset(["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"]) &&
      data.aws_iam_policy_document.push.statement[3].resources == toset([module.history_table.table_arn]) &&
      data.aws_iam_policy_document.push.statement[4].actions == toset(["lambda:InvokeFunction"]) &&
      data.aws_iam_policy_document.push.statement[4].resources == toset(["arn:aws:lambda:us-east-1:123456789012:function:wspush-prod-push"]) &&
      data.aws_iam_policy_document.push.source_policy_documents == local.lifecycle_policies
    )
    error_message = "push may only read the audience, delete gone rows, POST to @connections on its own stage, number and keep pushes in the history table, invoke itself (exact ARN), count occupancy and publish to its bus."
  }

  assert {
    condition = (
      data.aws_iam_policy_document.publish_lifecycle_events.statement[0].actions == toset(["events:PutEvents"]) &&
      data.aws_iam_policy_document.publish_lifecycle_events.statement[0].resources == toset([module.push_schedule.event_bus_arn]) &&
      data.aws_iam_policy_document.count_topic_occupancy.statement[0].actions == toset(["dynamodb:UpdateItem", "dynamodb:DeleteItem"]) &&
      data.aws_iam_policy_document.count_topic_occupancy.statement[0].resources == toset([module.history_table.table_arn])
    )
    error_message = "Lifecycle events may only be published to wspush's own bus, and occupancy counted in the history table."
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.authorizer.statement) == 1 &&
      data.aws_iam_policy_document.authorizer.statement[0].actions == toset(["ssm:GetParameter"]) &&
      data.aws_iam_policy_document.authorizer.statement[0].resources == toset([module.token_secret.parameter_arn])
    )
    error_message = "authorizer may only read its one parameter."
  }

  assert {
    condition = alltrue(flatten([
      for document in [
        data.aws_iam_policy_document.authorizer, data.aws_iam_policy_document.connect,
        data.aws_iam_policy_document.disconnect, data.aws_iam_policy_document.message,
        data.aws_iam_policy_document.push, data.aws_iam_policy_document.publish_lifecycle_events,
        data.aws_iam_policy_document.count_topic_occupancy,
        ] : [
        for statement in document.statement : [
          for resource in statement.resources : resource != "*" && startswith(resource, "arn:aws:")
        ]
      ]
    ]))
    error_message = "Every function statement must name an exact ARN, never *."
  }
}

run "customer_managed_key_adds_decrypt_for_that_key_only" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition = (
      data.aws_iam_policy_document.authorizer.statement[1].actions == toset(["kms:Decrypt"]) &&
      data.aws_iam_policy_document.authorizer.statement[1].resources == toset([var.kms_key_arn])
    )
    error_message = "With a customer-managed key the authorizer may decrypt with that key only."
  }
}

run "lifecycle_events_off_drop_the_bus_and_occupancy_grants" {
  command = plan

  variables {
    lifecycle_events_enabled = false
  }

  assert {
    condition = alltrue([
      for document in [
        data.aws_iam_policy_document.connect, data.aws_iam_policy_document.disconnect,
        data.aws_iam_policy_document.message, data.aws_iam_policy_document.push,
      ] : length(document.source_policy_documents) == 0
    ])
    error_message = "With lifecycle events off, no function may publish to the bus or count occupancy."
  }

  assert {
    condition     = local.common_environment.LIFECYCLE_EVENT_BUS == ""
    error_message = "With lifecycle events off, the functions must get no bus to publish to."
  }

  assert {
    condition     = data.aws_iam_policy_document.disconnect.statement[1].actions == toset(["dynamodb:BatchWriteItem"])
    error_message = "With lifecycle events off, disconnect deletes a connection's rows in batches."
  }
}

run "demo_mode_lets_message_find_the_connection_owner_in_the_index_only" {
  command = plan

  variables {
    auth_disabled = true
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.message.statement) == 5 &&
      data.aws_iam_policy_document.message.statement[4].actions == toset(["dynamodb:Query"]) &&
      data.aws_iam_policy_document.message.statement[4].resources == toset([module.connections_table.connection_index_arn])
    )
    error_message = "Without an authorizer, message may also Query the connectionId index, and only that index."
  }
}
