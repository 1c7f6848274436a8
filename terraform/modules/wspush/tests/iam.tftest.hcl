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
      data.aws_iam_policy_document.connect.statement[0].resources == toset([module.connections_table.table_arn])
    )
    error_message = "connect may only PutItem on the table."
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.disconnect.statement) == 2 &&
      data.aws_iam_policy_document.disconnect.statement[0].actions == toset(["dynamodb:Query"]) &&
      data.aws_iam_policy_document.disconnect.statement[0].resources == toset([module.connections_table.connection_index_arn]) &&
      data.aws_iam_policy_document.disconnect.statement[1].actions == toset(["dynamodb:BatchWriteItem"]) &&
      data.aws_iam_policy_document.disconnect.statement[1].resources == toset([module.connections_table.table_arn])
    )
    error_message = "disconnect may only Query the connectionId index and BatchWriteItem on the table."
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.message.statement) == 2 &&
      data.aws_iam_policy_document.message.statement[0].actions == toset(["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]) &&
      data.aws_iam_policy_document.message.statement[0].resources == toset([module.connections_table.table_arn]) &&
      data.aws_iam_policy_document.message.statement[1].actions == toset(["execute-api:ManageConnections"]) &&
      data.aws_iam_policy_document.message.statement[1].resources == toset(["arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/@connections/*"])
    )
    error_message = "message may only write subscriptions and POST to @connections on its own stage."
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.push.statement) == 4 &&
      data.aws_iam_policy_document.push.statement[0].actions == toset(["dynamodb:Query", "dynamodb:Scan"]) &&
      data.aws_iam_policy_document.push.statement[0].resources == toset([module.connections_table.table_arn, module.connections_table.connection_index_arn]) &&
      data.aws_iam_policy_document.push.statement[1].actions == toset(["dynamodb:DeleteItem"]) &&
      data.aws_iam_policy_document.push.statement[2].actions == toset(["execute-api:ManageConnections"]) &&
      data.aws_iam_policy_document.push.statement[2].resources == toset(["arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/@connections/*"]) &&
      data.aws_iam_policy_document.push.statement[3].actions == toset(["lambda:InvokeFunction"]) &&
      data.aws_iam_policy_document.push.statement[3].resources == toset(["arn:aws:lambda:us-east-1:123456789012:function:wspush-prod-push"])
    )
    error_message = "push may only read the audience, delete gone rows, POST to @connections on its own stage and invoke itself (exact ARN)."
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
        data.aws_iam_policy_document.push,
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

run "demo_mode_lets_message_find_the_connection_owner_in_the_index_only" {
  command = plan

  variables {
    auth_disabled = true
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.message.statement) == 3 &&
      data.aws_iam_policy_document.message.statement[2].actions == toset(["dynamodb:Query"]) &&
      data.aws_iam_policy_document.message.statement[2].resources == toset([module.connections_table.connection_index_arn])
    )
    error_message = "Without an authorizer, message may Query the connectionId index, nothing more."
  }
}
