# Plan-only: the connections table's schema.
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
    source = "../connections_table"
  }

  variables {
    name = "wspush-prod-connections"
  }

  assert {
    condition     = aws_dynamodb_table.this.hash_key == "entityId" && aws_dynamodb_table.this.range_key == "connectionId"
    error_message = "The table must be keyed entityId (partition) + connectionId (sort)."
  }

  assert {
    condition     = aws_dynamodb_table.this.billing_mode == "PAY_PER_REQUEST"
    error_message = "The table must be on-demand."
  }

  assert {
    condition = anytrue([
      for index in aws_dynamodb_table.this.global_secondary_index :
      index.name == "byConnection" && index.hash_key == "connectionId" && index.projection_type == "KEYS_ONLY"
    ])
    error_message = "A keys-only GSI byConnection on connectionId is required ($disconnect knows only the connection)."
  }

  assert {
    condition     = aws_dynamodb_table.this.ttl[0].attribute_name == "expiresAt" && aws_dynamodb_table.this.ttl[0].enabled
    error_message = "TTL must be enabled on expiresAt."
  }

  assert {
    condition     = aws_dynamodb_table.this.point_in_time_recovery[0].enabled
    error_message = "Point-in-time recovery must be on."
  }

  assert {
    condition     = !aws_dynamodb_table.this.server_side_encryption[0].enabled
    error_message = "Without a key of its own the table uses the free AWS-owned key (enabled = false), not the billed aws/dynamodb key (enabled = true with no key)."
  }

  assert {
    condition     = aws_dynamodb_table.this.deletion_protection_enabled
    error_message = "Deletion protection defaults to on."
  }
}

run "customer_managed_key" {
  command = plan

  module {
    source = "../connections_table"
  }

  variables {
    name                = "t"
    kms_key_arn         = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    deletion_protection = false
  }

  assert {
    condition     = aws_dynamodb_table.this.server_side_encryption[0].enabled && aws_dynamodb_table.this.server_side_encryption[0].kms_key_arn == "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    error_message = "The customer-managed key must be used when given."
  }

  assert {
    condition     = !aws_dynamodb_table.this.deletion_protection_enabled
    error_message = "Deletion protection must follow the variable."
  }
}
