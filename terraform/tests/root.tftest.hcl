# Plan-only: the thin root hands every setting to module.wspush, and a setting left unset
# (null) takes the module's default rather than overriding it with null.
mock_provider "aws" {
  override_during = plan
  source          = "./modules/wspush/tests/mocks"
}

run "unset_settings_take_the_module_defaults" {
  command = plan

  assert {
    condition     = output.stage_name == "prod" && output.function_names.push == "wspush-prod-push"
    error_message = "With no variables set, the root must deploy the module's defaults (wspush, prod)."
  }

  assert {
    condition     = output.aws_region == "us-east-1"
    error_message = "The region output must come from the provider's region."
  }
}

run "settings_pass_through" {
  command = plan

  variables {
    name       = "shop"
    stage_name = "staging"
  }

  assert {
    condition     = output.function_names.push == "shop-staging-push" && output.connections_table_name == "shop-staging-connections"
    error_message = "The root must pass name and stage_name to the module."
  }
}

run "sharding_settings_pass_through" {
  command = plan

  variables {
    push_shard_size = 1234
    push_rate_limit = 4321
  }

  assert {
    condition     = module.wspush.push_settings.shard_size == 1234 && module.wspush.push_settings.rate_limit == 4321 && module.wspush.push_settings.shard_parallelism == 10
    error_message = "The root must pass the sharding settings to the module, unset ones taking its defaults."
  }
}

run "push_retry_settings_pass_through" {
  command = plan

  variables {
    push_retry_attempts        = 2
    push_max_event_age_seconds = 600
  }

  assert {
    condition     = module.wspush.push_settings.retry_attempts == 2 && module.wspush.push_settings.max_event_age_seconds == 600
    error_message = "The root must pass push_retry_attempts and push_max_event_age_seconds to the module."
  }
}

run "publish_settings_pass_through" {
  command = plan

  variables {
    publish_jwt_issuer   = "https://auth.example.com/"
    publish_jwt_audience = ["wspush-publishers"]
  }

  assert {
    condition     = output.publish_caller_policy_json == null && endswith(output.publish_url, "/prod/publish")
    error_message = "The root must pass the JWT settings to the module and re-export publish_url."
  }
}

run "identity_settings_pass_through" {
  command = plan

  variables {
    connect_hs256_enabled = false
    connect_oidc_issuers  = [{ issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example1", audiences = ["app-client"] }]
  }

  assert {
    condition     = module.wspush.connect_settings == { hs256_enabled = false, oidc_issuers = ["https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example1"] }
    error_message = "The root must pass the identity settings to the module."
  }
}

run "unset_identity_settings_take_the_module_defaults" {
  command = plan

  assert {
    condition     = module.wspush.connect_settings == { hs256_enabled = true, oidc_issuers = [] }
    error_message = "Unset, $connect accepts wspush's own tokens and trusts no issuer."
  }
}
