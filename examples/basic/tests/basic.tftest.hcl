# Plan-only: the example plans as a user's root would, with its own settings reaching the
# module.
mock_provider "aws" {
  override_during = plan
  source          = "../../terraform/modules/wspush/tests/mocks"
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
