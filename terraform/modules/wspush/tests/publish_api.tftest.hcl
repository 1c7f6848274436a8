# Plan-only: POST /publish is IAM-authorized by default, callers get exactly one route,
# the publish function may only count an audience and invoke the push function, and a
# JWT authorizer replaces IAM when an issuer is given.
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  lambda_package = { path = "tests/fixtures/lambda.zip" }
}

run "iam_by_default" {
  command = plan

  assert {
    condition     = module.publish_api.authorization_type == "AWS_IAM"
    error_message = "POST /publish must require SigV4 (AWS_IAM) unless a JWT issuer is set."
  }

  assert {
    condition     = module.publish_api.route_arn == "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/publish"
    error_message = "The route ARN must be the stage's POST /publish, exactly."
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.publish_caller.statement) == 2 &&
      data.aws_iam_policy_document.publish_caller.statement[0].actions == toset(["execute-api:Invoke"]) &&
      data.aws_iam_policy_document.publish_caller.statement[0].resources == toset(["arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/publish"]) &&
      data.aws_iam_policy_document.publish_caller.statement[1].actions == toset(["execute-api:Invoke"]) &&
      data.aws_iam_policy_document.publish_caller.statement[1].resources == toset(["arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/publish/*"])
    )
    error_message = "The caller policy may only grant execute-api:Invoke on POST /publish and GET /publish/{id} (a push's trace) of this stage."
  }

  assert {
    condition     = output.publish_caller_policy_json != null
    error_message = "With IAM authorization, the caller policy must be an output."
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.function["publish"].statement) == 4 &&
      data.aws_iam_policy_document.function["publish"].statement[3].actions == toset(["dynamodb:Query"]) &&
      data.aws_iam_policy_document.function["publish"].statement[3].resources == toset([module.history_table.table_arn]) &&
      data.aws_iam_policy_document.function["publish"].statement[0].actions == toset(["dynamodb:Query"]) &&
      data.aws_iam_policy_document.function["publish"].statement[0].resources == toset([module.connections_table.table_arn]) &&
      data.aws_iam_policy_document.function["publish"].statement[1].actions == toset(["dynamodb:GetItem"]) &&
      data.aws_iam_policy_document.function["publish"].statement[1].resources == toset([module.history_table.table_arn]) &&
      data.aws_iam_policy_document.function["publish"].statement[2].actions == toset(["lambda:InvokeFunction"]) &&
      data.aws_iam_policy_document.function["publish"].statement[2].resources == toset(["arn:aws:lambda:us-east-1:123456789012:function:wspush-prod-push"])
    )
    error_message = "publish may only Query the table (audience size), read push id claims and Query traces in the history table and invoke the push function, by exact ARN."
  }

  assert {
    condition     = output.function_names.publish == "wspush-prod-publish" && local.function_definitions.publish.environment.PUSH_FUNCTION_NAME == output.function_names.push
    error_message = "The publish function must hand off to this stack's push function."
  }

  assert {
    condition     = local.function_definitions.publish.environment.PUBLISH_SYNC_MAX_TARGETS == "100"
    error_message = "Audiences of up to 100 connections are delivered while the caller waits, by default."
  }
}

run "jwt_authorizer_replaces_iam" {
  command = plan

  variables {
    publish_jwt_issuer   = "https://auth.example.com/"
    publish_jwt_audience = ["wspush-publishers"]
  }

  assert {
    condition     = module.publish_api.authorization_type == "JWT"
    error_message = "With an issuer, POST /publish must use the JWT authorizer."
  }

  assert {
    condition     = output.publish_caller_policy_json == null
    error_message = "An IAM caller policy means nothing with a JWT authorizer."
  }
}

run "jwt_issuer_must_be_https" {
  command = plan

  variables {
    publish_jwt_issuer   = "http://auth.example.com/"
    publish_jwt_audience = ["wspush-publishers"]
  }

  expect_failures = [var.publish_jwt_issuer]
}

run "jwt_issuer_needs_an_audience" {
  command = plan

  variables {
    publish_jwt_issuer = "https://auth.example.com/"
  }

  expect_failures = [var.publish_jwt_audience]
}

run "sync_limit_is_bounded" {
  command = plan

  variables {
    publish_sync_max_targets = -1
  }

  expect_failures = [var.publish_sync_max_targets]
}
