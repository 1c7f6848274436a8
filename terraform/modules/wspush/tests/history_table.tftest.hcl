# Plan-only: the history table's schema, what the functions are told about it, and the
# channel settings' validation.
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  lambda_package = { path = "tests/fixtures/lambda.zip" }
}

run "table_schema" {
  command = plan

  module {
    source = "../history_table"
  }

  variables {
    name = "wspush-prod-history"
  }

  assert {
    condition     = aws_dynamodb_table.this.hash_key == "channel" && aws_dynamodb_table.this.range_key == "seq"
    error_message = "The history table must be keyed channel (partition) + seq (sort)."
  }

  assert {
    condition = alltrue([
      for attribute in aws_dynamodb_table.this.attribute :
      (attribute.name == "channel" && attribute.type == "S") || (attribute.name == "seq" && attribute.type == "N")
    ])
    error_message = "channel must be a string and seq a number (so a Query reads a channel in order)."
  }

  assert {
    condition     = aws_dynamodb_table.this.ttl[0].attribute_name == "expiresAt" && aws_dynamodb_table.this.ttl[0].enabled
    error_message = "TTL must be enabled on expiresAt: it is the history window."
  }

  assert {
    condition     = aws_dynamodb_table.this.billing_mode == "PAY_PER_REQUEST" && aws_dynamodb_table.this.point_in_time_recovery[0].enabled
    error_message = "The history table must be on-demand with point-in-time recovery."
  }
}

run "functions_get_the_history_settings" {
  command = plan

  variables {
    history_retention_hours = 48
    resume_max_messages     = 250
  }

  assert {
    condition     = module.history_table.table_name == "wspush-prod-history"
    error_message = "The history table is named <name>-<stage>-history."
  }

  assert {
    condition = (
      local.function_definitions.push.environment.HISTORY_RETENTION_SECONDS == "172800" &&
      local.function_definitions.message.environment.RESUME_MAX_MESSAGES == "250"
    )
    error_message = "push must get the window in seconds and message the replay bound."
  }

  assert {
    condition     = local.common_environment.HISTORY_TABLE == "wspush-prod-history" && local.common_environment.LIFECYCLE_EVENT_BUS == "wspush-prod"
    error_message = "Every function must know the history table and, with lifecycle events on (the default), the bus."
  }

  assert {
    condition     = contains(keys(local.routes), "resume") && contains(keys(local.routes), "presence")
    error_message = "resume and presence must be routes of their own."
  }
}

run "retention_of_zero_hours_is_refused" {
  command = plan

  variables {
    history_retention_hours = 0
  }

  expect_failures = [var.history_retention_hours]
}

run "an_unbounded_replay_is_refused" {
  command = plan

  variables {
    resume_max_messages = 5000
  }

  expect_failures = [var.resume_max_messages]
}

run "history_encryption_is_free_without_a_key_and_the_key_with_one" {
  command = plan

  module {
    source = "../history_table"
  }

  variables {
    name = "wspush-prod-history"
  }

  assert {
    condition     = !aws_dynamodb_table.this.server_side_encryption[0].enabled
    error_message = "Without a key of its own the table uses the free AWS-owned key (enabled = false), not the billed aws/dynamodb key."
  }
}

run "history_encryption_uses_the_key_given" {
  command = plan

  module {
    source = "../history_table"
  }

  variables {
    name        = "wspush-prod-history"
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition     = aws_dynamodb_table.this.server_side_encryption[0].enabled && aws_dynamodb_table.this.server_side_encryption[0].kms_key_arn == "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    error_message = "A customer-managed key must be used when given."
  }
}
