# Plan-only: API Gateway's account setting (the CloudWatch role the WebSocket stage's access
# logging needs) is set by wspush only when asked, through modules/api_gateway_account,
# which resets it on destroy.
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  package_dir = "../../../dist"
}

run "the_account_setting_is_left_alone_by_default" {
  command = plan

  assert {
    condition     = length(module.api_gateway_account) == 0
    error_message = "Without manage_api_gateway_account, the deployment must not touch the account-wide setting (make account-logging sets it once)."
  }
}

run "the_deployment_sets_it_when_asked" {
  command = plan

  variables {
    manage_api_gateway_account = true
  }

  assert {
    condition     = module.api_gateway_account[0].role_name == "wspush-prod-apigw-logs-us-east-1"
    error_message = "The role must be named after the deployment and the region (IAM is global, the setting regional)."
  }
}

run "the_setting_is_reset_when_destroyed" {
  command = plan

  module {
    source = "../api_gateway_account"
  }

  variables {
    name = "wspush"
  }

  assert {
    condition     = aws_api_gateway_account.this.reset_on_delete
    error_message = "Destroying the setting must clear it, not leave the account pointing at the deleted role."
  }

  assert {
    condition     = aws_iam_role.this.name == "wspush-apigw-logs-us-east-1"
    error_message = "The role name must carry the region."
  }

  assert {
    condition     = aws_iam_role_policy_attachment.this.policy_arn == "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    error_message = "The role needs exactly AWS's managed policy for API Gateway's log delivery."
  }

  assert {
    condition     = data.aws_iam_policy_document.assume.statement[0].principals == toset([{ type = "Service", identifiers = toset(["apigateway.amazonaws.com"]) }])
    error_message = "Only API Gateway may assume the role."
  }
}

run "a_role_name_over_iams_limit_is_refused" {
  command = plan

  module {
    source = "../api_gateway_account"
  }

  variables {
    name = "a-name-much-too-long-for-an-iam-role-name"
  }

  expect_failures = [var.name]
}
