data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

data "aws_region" "current" {}

locals {
  # The one place the Lambda runtime and architecture are named: build.sh installs the
  # dependencies for exactly these (scripts/package.py --pip-target reads the same file).
  lambda_target = jsondecode(file("${path.module}/../../../lambdas/runtime.json"))
}

resource "aws_iam_role" "this" {
  # IAM names are account-wide: the region keeps the same function name in two regions apart.
  name               = coalesce(var.role_name, "${var.function_name}-${data.aws_region.current.name}")
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags

  lifecycle {
    precondition {
      condition     = length(coalesce(var.role_name, "${var.function_name}-${data.aws_region.current.name}")) <= 64
      error_message = "The function's role name \"${coalesce(var.role_name, "${var.function_name}-${data.aws_region.current.name}")}\" is longer than the 64 characters IAM allows: shorten the function name or set role_name."
    }
  }
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Log data is encrypted at rest by CloudWatch Logs; a customer-managed key is opt-in via var.log_kms_key_arn.
  #checkov:skip=CKV_AWS_338:Retention is a deliberate variable (default 30 days); a year of debug logs is a cost, not a control.
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "this" {
  # The function's own access (passed in, exact ARNs), plus what every function needs.
  source_policy_documents = [var.policy_json]

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    # X-Ray's write actions support no resource-level permissions: "*" is the only ARN.
    sid       = "WriteTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.function_name}-access"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:The functions reach only regional AWS endpoints; a VPC would add NAT cost and cold-start latency for no isolation gain.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile per account; the zip is reproducible and its hash is pinned by source_code_hash.
  #checkov:skip=CKV_AWS_173:The environment holds names and endpoints only; the one secret is read from SSM at run time.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is an account-level trade-off; set var.reserved_concurrency where it is wanted.
  #checkov:skip=CKV_AWS_116:Asynchronous failures go to an on-failure destination (aws_lambda_function_event_invoke_config below), whose invocation records say why; synchronous functions have none.
  function_name                  = var.function_name
  description                    = var.description
  role                           = aws_iam_role.this.arn
  handler                        = var.handler
  runtime                        = local.lambda_target.runtime
  architectures                  = [local.lambda_target.architecture]
  filename                       = var.package.path
  source_code_hash               = var.package.path != null ? filebase64sha256(var.package.path) : null
  s3_bucket                      = var.package.s3_bucket
  s3_key                         = var.package.s3_key
  s3_object_version              = var.package.s3_object_version
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = var.environment
  }

  tracing_config {
    mode = "Active"
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}

# Asynchronous invocations (EventBridge, InvocationType=Event): Lambda retries a failed
# invocation var.async_retry_attempts times, then sends an invocation record (the request,
# the error, why it gave up) to the on-failure destination. The role's policy must allow
# sqs:SendMessage on it (Lambda sends with the function's role).
resource "aws_lambda_function_event_invoke_config" "this" {
  count = var.async_invocation ? 1 : 0

  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = var.async_retry_attempts
  maximum_event_age_in_seconds = var.async_max_event_age_seconds

  destination_config {
    on_failure {
      destination = var.on_failure_destination_arn
    }
  }
}
