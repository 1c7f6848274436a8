# Plan-only: the example plans as a user's root would, with its own settings reaching the
# module.
mock_provider "aws" {
  override_during = plan

  # Only what the configuration computes with: the rest may stay random.
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }

  mock_data "aws_region" {
    defaults = { name = "us-east-1", id = "us-east-1" }
  }

  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }

  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }

  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" }
  }
}

run "plans_with_the_users_settings" {
  command = plan

  assert {
    condition     = output.push_function_name == "orders-staging-push"
    error_message = "The example's name and stage must reach the module."
  }

  assert {
    condition     = module.wspush.kms_key_arn != null
    error_message = "The example creates a customer-managed key."
  }
}
