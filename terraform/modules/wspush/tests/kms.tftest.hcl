# Plan-only: with a customer-managed key, every principal that touches an encrypted
# resource can use the key, and nobody else gets it.
#
# "Touches" is read from what the configuration grants, not from a list kept beside it: a
# function touches a resource when one of its policy statements names one of the
# resource's ARNs; a service touches one when it writes to it as itself (EventBridge to the
# undelivered-events queue, CloudWatch to the alarm topic). A new encrypted resource goes
# into local.encrypted_resources and, if a service writes to it as itself, into
# local.kms_service_grants and the "services" run below.
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  lambda_package = { path = "tests/fixtures/lambda.zip" }
}

run "created_key_reaches_every_principal" {
  command = plan

  variables {
    create_kms_key = true
  }

  # Every encrypted resource is under the key.
  assert {
    condition = (
      module.connections_table.kms_key_arn_in_use == aws_kms_key.this[0].arn &&
      module.history_table.kms_key_arn_in_use == aws_kms_key.this[0].arn &&
      module.token_secret.kms_key_arn_in_use == aws_kms_key.this[0].arn &&
      module.push_schedule.kms_key_arn_in_use == aws_kms_key.this[0].arn &&
      module.monitoring[0].kms_key_arn_in_use == aws_kms_key.this[0].arn
    )
    error_message = "Both tables, the token secret, both queues and the alarm topic must all use the created key."
  }

  # Functions: each statement naming an encrypted resource comes with the key, for that
  # resource's service only.
  assert {
    condition = alltrue(flatten([
      for function, document in data.aws_iam_policy_document.function : [
        for statement in document.statement : [
          for resource in local.encrypted_resources : anytrue([
            for grant in document.statement :
            grant.resources == toset([aws_kms_key.this[0].arn]) &&
            length(setsubtract(toset(local.kms_actions_by_service[resource.service]), grant.actions)) == 0 &&
            anytrue([for condition in grant.condition : condition.variable == "kms:ViaService" && toset(condition.values) == toset(["${resource.service}.us-east-1.amazonaws.com"])])
          ])
          if length(setintersection(toset(resource.arns), statement.resources)) > 0
        ]
      ]
    ]))
    error_message = "A function that touches an encrypted resource must be allowed the key through that resource's service (kms:ViaService)."
  }

  assert {
    condition = (
      toset(local.function_kms_services["authorizer"]) == toset(["ssm"]) &&
      toset(local.function_kms_services["connect"]) == toset(["dynamodb"]) &&
      toset(local.function_kms_services["publish"]) == toset(["dynamodb"]) &&
      toset(local.function_kms_services["push"]) == toset(["dynamodb", "sqs"])
    )
    error_message = "The authorizer reads the SSM secret, connect writes and publish reads the table, push reads the table and writes the dead-letter queue: each needs the key through exactly those services."
  }

  assert {
    condition = alltrue(flatten([
      for document in data.aws_iam_policy_document.function : [
        for statement in document.statement : [
          for action in statement.actions : startswith(action, "kms:") ? (
            statement.resources == toset([aws_kms_key.this[0].arn]) && length(statement.condition) == 1
          ) : true
        ]
      ]
    ]))
    error_message = "Key use in function policies must name the key and carry a kms:ViaService condition."
  }

  # Services writing as themselves: granted by the key policy, each limited to its source.
  assert {
    condition = anytrue([
      for statement in data.aws_iam_policy_document.kms_key.statement :
      anytrue([for principal in statement.principals : principal.type == "Service" && toset(principal.identifiers) == toset(["events.amazonaws.com"])]) &&
      anytrue([for condition in statement.condition : condition.test == "ArnEquals" && condition.variable == "aws:SourceArn" && toset(condition.values) == toset(values(module.push_schedule.rule_arns))]) &&
      length(setsubtract(toset(["kms:Decrypt", "kms:GenerateDataKey"]), statement.actions)) == 0
    ])
    error_message = "EventBridge writes undelivered events to the encrypted queue: the key policy must let it use the key, for the two rules only."
  }

  assert {
    condition = anytrue([
      for statement in data.aws_iam_policy_document.kms_key.statement :
      anytrue([for principal in statement.principals : principal.type == "Service" && toset(principal.identifiers) == toset(["cloudwatch.amazonaws.com"])]) &&
      anytrue([for condition in statement.condition : condition.variable == "aws:SourceAccount" && toset(condition.values) == toset(["123456789012"])]) &&
      length(setsubtract(toset(["kms:Decrypt", "kms:GenerateDataKey*"]), statement.actions)) == 0
    ])
    error_message = "CloudWatch publishes alarms to the encrypted topic: the key policy must let it use the key, from this account."
  }

  assert {
    condition     = aws_kms_key.this[0].enable_key_rotation && aws_kms_key.this[0].policy == data.aws_iam_policy_document.kms_key.json
    error_message = "The created key rotates and carries the key policy."
  }

  assert {
    condition     = output.kms_key_arn == aws_kms_key.this[0].arn && output.kms_key_policy_json == data.aws_iam_policy_document.kms_key.json
    error_message = "The key and its policy must be outputs (the policy is what a supplied key needs)."
  }
}

run "supplied_key_is_used_without_creating_one" {
  command = plan

  variables {
    kms_key_arn        = "arn:aws:kms:us-east-1:123456789012:key/0000abcd-12ab-34cd-56ef-1234567890ab"
    monitoring_enabled = false
  }

  assert {
    condition = (
      length(aws_kms_key.this) == 0 &&
      module.connections_table.kms_key_arn_in_use == var.kms_key_arn &&
      module.history_table.kms_key_arn_in_use == var.kms_key_arn &&
      toset(local.function_kms_services["push"]) == toset(["dynamodb", "sqs"]) &&
      length(data.aws_iam_policy_document.kms_key.statement) == 2
    )
    error_message = "A supplied key is used as is; without monitoring the key policy needs no CloudWatch grant."
  }
}

run "no_key_no_kms_statements" {
  command = plan

  assert {
    condition = alltrue(flatten([
      for document in data.aws_iam_policy_document.function : [
        for statement in document.statement : [for action in statement.actions : !startswith(action, "kms:")]
      ]
    ])) && module.monitoring[0].kms_key_arn_in_use == null
    error_message = "Without a customer-managed key, no function gets key permissions and the alarm topic is unencrypted (CloudWatch cannot use aws/sns)."
  }
}

run "create_and_supply_are_exclusive" {
  command = plan

  variables {
    create_kms_key = true
    kms_key_arn    = "arn:aws:kms:us-east-1:123456789012:key/0000abcd-12ab-34cd-56ef-1234567890ab"
  }

  expect_failures = [var.kms_key_arn]
}

run "an_alias_is_not_a_key_arn" {
  command = plan

  variables {
    kms_key_arn = "alias/wspush"
  }

  expect_failures = [var.kms_key_arn]
}
