# Plan-only: every function runs the one release zip, from a local path or from S3, and a
# lambda_package that names no zip fails plan with a readable message.
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

run "a_local_zip_reaches_every_function_with_its_hash" {
  command = plan

  variables {
    lambda_package = { path = "tests/fixtures/lambda.zip" }
  }

  assert {
    condition = alltrue([
      for function in module.functions : function.code_source.filename == "tests/fixtures/lambda.zip" &&
      function.code_source.source_code_hash == filebase64sha256("tests/fixtures/lambda.zip") &&
      function.code_source.s3_bucket == null
    ])
    error_message = "Every function must deploy the local zip, with its hash as source_code_hash (so new code redeploys)."
  }

  assert {
    condition     = length(module.functions) == 7
    error_message = "The seven functions share the one zip."
  }
}

run "an_s3_object_reaches_every_function" {
  command = plan

  variables {
    lambda_package = { s3_bucket = "artifacts-123456789012", s3_key = "wspush/wspush-lambda-0.3.0.zip", s3_object_version = "3" }
  }

  assert {
    condition = alltrue([
      for function in module.functions : function.code_source.filename == null &&
      function.code_source.s3_bucket == "artifacts-123456789012" &&
      function.code_source.s3_key == "wspush/wspush-lambda-0.3.0.zip" &&
      function.code_source.s3_object_version == "3"
    ])
    error_message = "Every function must deploy the S3 object, at its version."
  }
}

run "a_missing_zip_is_refused" {
  command = plan

  variables {
    lambda_package = { path = "tests/fixtures/no-such.zip" }
  }

  expect_failures = [var.lambda_package]
}

run "a_path_and_an_s3_object_together_are_refused" {
  command = plan

  variables {
    lambda_package = { path = "tests/fixtures/lambda.zip", s3_bucket = "artifacts", s3_key = "wspush.zip" }
  }

  expect_failures = [var.lambda_package]
}

run "an_empty_package_is_refused" {
  command = plan

  variables {
    lambda_package = {}
  }

  expect_failures = [var.lambda_package]
}

run "a_bucket_without_a_key_is_refused" {
  command = plan

  variables {
    lambda_package = { s3_bucket = "artifacts" }
  }

  expect_failures = [var.lambda_package]
}
