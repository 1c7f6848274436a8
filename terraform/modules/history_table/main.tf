resource "aws_dynamodb_table" "this" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest by default; a customer-managed key is opt-in through var.kms_key_arn.
  #checkov:skip=CKV2_AWS_16:On-demand capacity scales by itself; auto scaling applies to provisioned tables only.
  name                        = var.name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "channel"
  range_key                   = "seq"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "channel"
    type = "S"
  }

  attribute {
    name = "seq"
    type = "N"
  }

  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  # Without a key of our own, the AWS-owned key (enabled = false), which is free;
  # enabled = true with no key would select the AWS-managed aws/dynamodb key, whose KMS
  # requests are billed.
  server_side_encryption {
    enabled     = var.kms_key_arn != null
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}
