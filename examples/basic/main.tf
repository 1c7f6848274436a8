# Your own root configuration: your provider, your tags, your state; wspush is one module,
# sourced from its repository at a release tag (its sibling modules come along), with the
# functions' code from that release's wspush-lambda-<version>.zip (var.lambda_package).

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
  source = "git::https://github.com/wspush/wspush.git//terraform/modules/wspush?ref=v0.3.0"

  # The release's function zip, downloaded beside this file or uploaded to S3.
  lambda_package = var.lambda_package

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
