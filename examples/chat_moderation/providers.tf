locals {
  emulated = var.emulator_endpoint != null
}

provider "aws" {
  region = var.aws_region

  # An emulator answers at once or never: retrying an API it lacks would hang for minutes.
  max_retries                 = local.emulated ? 1 : null
  skip_credentials_validation = local.emulated
  skip_metadata_api_check     = local.emulated
  skip_region_validation      = local.emulated

  dynamic "endpoints" {
    for_each = local.emulated ? [var.emulator_endpoint] : []

    content {
      apigateway     = endpoints.value
      apigatewayv2   = endpoints.value
      cloudwatch     = endpoints.value
      cloudwatchlogs = endpoints.value
      dynamodb       = endpoints.value
      events         = endpoints.value
      iam            = endpoints.value
      kms            = endpoints.value
      lambda         = endpoints.value
      sfn            = endpoints.value
      sns            = endpoints.value
      sqs            = endpoints.value
      ssm            = endpoints.value
      sts            = endpoints.value
    }
  }

  default_tags {
    tags = { Project = "wspush", Example = "chat-moderation", Stage = var.stage_name }
  }
}
