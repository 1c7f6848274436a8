# Your own root configuration: your provider, your tags, your state; wspush is one module.
# From another repository, use a git source instead of the relative path, e.g.
#   source = "git::https://github.com/<owner>/wspush.git//terraform/modules/wspush?ref=<tag>"
# (the module's sibling modules come along) and point package_dir at your build's zips.

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Team        = "realtime"
      Environment = var.stage_name
      ManagedBy   = "terraform"
    }
  }
}

module "wspush" {
  source = "../../terraform/modules/wspush"

  # The zips `make build` writes (build.sh), one per function.
  package_dir = "${path.root}/../../dist"

  name       = "orders"
  stage_name = var.stage_name

  # Only your web app's pages may open connections (empty would allow any origin).
  allowed_origins = var.allowed_origins

  # A customer-managed key for the table, the token secret, the queues and the alarm
  # topic, with the key policy CloudWatch and EventBridge need.
  create_kms_key = true

  alarm_email = var.alarm_email

  # One deployment per account and region sets API Gateway's logging role; this account
  # already has one.
  manage_api_gateway_account = false
}
