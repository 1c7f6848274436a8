# Plan-only: trusted OIDC issuers reach the authorizer, bad ones fail plan readably.
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  package_dir = "../../../dist"
}

run "only_wspush_tokens_by_default" {
  command = plan

  assert {
    condition = (
      local.function_definitions.authorizer.environment.OIDC_ISSUERS == "" &&
      local.function_definitions.authorizer.environment.TOKEN_HS256_ENABLED == "true"
    )
    error_message = "By default the authorizer trusts no issuer and accepts wspush's own tokens."
  }
}

run "a_cognito_pool_reaches_the_authorizer_with_defaults_filled_in" {
  command = plan

  variables {
    connect_oidc_issuers = [{
      issuer       = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
      audiences    = ["4f1k2j3h4g5f6d7s8a9q0w1e2r"]
      group_topics = { claim = "cognito:groups", patterns = { admins = ["*"], staff = ["orders.*"] } }
      token_use    = ["id"]
    }]
  }

  assert {
    condition = jsondecode(local.function_definitions.authorizer.environment.OIDC_ISSUERS) == [{
      issuer       = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
      audiences    = ["4f1k2j3h4g5f6d7s8a9q0w1e2r"]
      client_ids   = []
      jwks_uri     = null
      entity_claim = "sub"
      topics_claim = null
      group_topics = { claim = "cognito:groups", patterns = { admins = ["*"], staff = ["orders.*"] } }
      token_use    = ["id"]
      algorithms   = ["RS256"]
    }]
    error_message = "The issuers reach the authorizer as JSON, with the module's defaults."
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.function["authorizer"].statement) == 1 &&
      data.aws_iam_policy_document.function["authorizer"].statement[0].actions == toset(["ssm:GetParameter"])
    )
    error_message = "Trusting an issuer grants the authorizer nothing more: its keys are public."
  }
}

run "oidc_only_needs_no_token_secret" {
  command = plan

  variables {
    connect_hs256_enabled = false
    connect_oidc_issuers  = [{ issuer = "https://idp.example.com/", audiences = ["app"] }]
  }

  assert {
    condition = (
      local.function_definitions.authorizer.environment.TOKEN_HS256_ENABLED == "false" &&
      length(data.aws_iam_policy_document.function["authorizer"].statement) == 0
    )
    error_message = "Without wspush's own tokens, the authorizer may not read the token secret."
  }
}

run "a_local_issuer_may_use_plain_http_to_loopback" {
  command = plan

  variables {
    connect_oidc_issuers = [{ issuer = "http://127.0.0.1:9000/realms/dev", audiences = ["app"], jwks_uri = "http://localhost:9000/certs", algorithms = ["RS256", "ES256"] }]
  }
}

run "every_kind_of_token_off_is_refused" {
  command = plan

  variables {
    connect_hs256_enabled = false
  }

  expect_failures = [var.connect_hs256_enabled]
}

run "plain_http_across_a_network_is_refused" {
  command = plan

  variables {
    connect_oidc_issuers = [{ issuer = "http://idp.example.com", audiences = ["app"] }]
  }

  expect_failures = [var.connect_oidc_issuers]
}

run "an_issuer_without_audiences_or_client_ids_is_refused" {
  command = plan

  variables {
    connect_oidc_issuers = [{ issuer = "https://idp.example.com" }]
  }

  expect_failures = [var.connect_oidc_issuers]
}

run "an_issuer_listed_twice_is_refused" {
  command = plan

  variables {
    connect_oidc_issuers = [
      { issuer = "https://idp.example.com", audiences = ["a"] },
      { issuer = "https://idp.example.com", client_ids = ["b"] },
    ]
  }

  expect_failures = [var.connect_oidc_issuers]
}

run "an_unknown_token_use_is_refused" {
  command = plan

  variables {
    connect_oidc_issuers = [{ issuer = "https://idp.example.com", audiences = ["a"], token_use = ["refresh"] }]
  }

  expect_failures = [var.connect_oidc_issuers]
}

run "hs256_is_no_oidc_algorithm" {
  command = plan

  variables {
    connect_oidc_issuers = [{ issuer = "https://idp.example.com", audiences = ["a"], algorithms = ["HS256"] }]
  }

  expect_failures = [var.connect_oidc_issuers]
}

run "a_bad_group_pattern_is_refused" {
  command = plan

  variables {
    connect_oidc_issuers = [{ issuer = "https://idp.example.com", audiences = ["a"], group_topics = { claim = "groups", patterns = { staff = ["orders *"] } } }]
  }

  expect_failures = [var.connect_oidc_issuers]
}

run "wspush_tokens_may_not_claim_a_trusted_issuer" {
  command = plan

  variables {
    token_issuer         = "https://idp.example.com"
    connect_oidc_issuers = [{ issuer = "https://idp.example.com", audiences = ["a"] }]
  }

  expect_failures = [var.connect_oidc_issuers]
}

run "issuers_too_large_for_the_environment_are_refused" {
  command = plan

  variables {
    connect_oidc_issuers = [for index in range(12) : { issuer = "https://idp-${index}.example.com/${join("", [for i in range(10) : "segment"])}", audiences = ["client-${index}-${join("", [for i in range(10) : "x"])}"] }]
  }

  expect_failures = [var.connect_oidc_issuers]
}
