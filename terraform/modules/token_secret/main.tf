locals {
  # uuid() draws from crypto/rand: three v4 UUIDs are 366 random bits. The value feeds a
  # write-only attribute only, so it never reaches the plan or the state.
  generated_secret = replace(join("", [uuid(), uuid(), uuid()]), "-", "")
}

resource "aws_ssm_parameter" "this" {
  #checkov:skip=CKV_AWS_337:A SecureString under the AWS-managed key by default; a customer-managed key is opt-in via var.kms_key_arn.
  name             = var.parameter_name
  description      = "HS256 secret that signs connection tokens (one per line; the first signs, all verify)."
  type             = "SecureString"
  key_id           = var.kms_key_arn
  value_wo         = var.value != null ? var.value : local.generated_secret
  value_wo_version = var.value_version
  tags             = var.tags
}
