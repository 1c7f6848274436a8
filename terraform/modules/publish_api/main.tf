# POST /publish (and GET /publish/{id}, a push's trace) on an API Gateway HTTP API,
# proxied to the publish function, both with the same authorization.
#
# An HTTP API rather than a Lambda function URL: IAM callers sign for `execute-api` and
# are granted `execute-api:Invoke` on this one route's ARN, a JWT authorizer (issuer and
# audience) is built in for callers outside AWS, and the stage brings throttling and
# access logs. A function URL offers IAM only, for the whole function, and nothing else.

locals {
  jwt       = var.jwt_issuer != null
  route_key = "POST /publish"
  # execute-api ARN of the route: <execution-arn>/<stage>/<method>/<path>.
  route_arn       = "${aws_apigatewayv2_api.this.execution_arn}/${var.stage_name}/POST/publish"
  trace_route_key = "GET /publish/{id}"
  trace_route_arn = "${aws_apigatewayv2_api.this.execution_arn}/${var.stage_name}/GET/publish/*"
}

resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  protocol_type = "HTTP"
  description   = "wspush publish API: POST /publish"
  tags          = var.tags
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  count = local.jwt ? 1 : 0

  api_id           = aws_apigatewayv2_api.this.id
  name             = "${var.name}-jwt"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = var.jwt_issuer
    audience = var.jwt_audience
  }
}

resource "aws_apigatewayv2_integration" "this" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = var.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = var.timeout_milliseconds
}

resource "aws_apigatewayv2_route" "this" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = local.route_key
  target             = "integrations/${aws_apigatewayv2_integration.this.id}"
  authorization_type = local.jwt ? "JWT" : "AWS_IAM"
  authorizer_id      = local.jwt ? aws_apigatewayv2_authorizer.jwt[0].id : null
}

resource "aws_apigatewayv2_route" "trace" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = local.trace_route_key
  target             = "integrations/${aws_apigatewayv2_integration.this.id}"
  authorization_type = local.jwt ? "JWT" : "AWS_IAM"
  authorizer_id      = local.jwt ? aws_apigatewayv2_authorizer.jwt[0].id : null
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_158:Log data is encrypted at rest by CloudWatch Logs; a customer-managed key is opt-in via var.log_kms_key_arn.
  #checkov:skip=CKV_AWS_338:Retention is a deliberate variable (default 30 days).
  name              = "/aws/apigateway/${var.name}/${var.stage_name}/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_apigatewayv2_stage" "this" {
  api_id = aws_apigatewayv2_api.this.id
  name   = var.stage_name
  # Every change to the route, integration or authorizer is deployed at once.
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = var.throttling_burst_limit
    throttling_rate_limit  = var.throttling_rate_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    # No headers and no body: neither a signature nor a token reaches the logs.
    format = jsonencode({
      requestId        = "$context.requestId"
      routeKey         = "$context.routeKey"
      status           = "$context.status"
      requestTime      = "$context.requestTimeEpoch"
      sourceIp         = "$context.identity.sourceIp"
      caller           = "$context.identity.userArn"
      jwtSubject       = "$context.authorizer.claims.sub"
      integrationError = "$context.integrationErrorMessage"
      integrationMs    = "$context.integrationLatency"
      errorMessage     = "$context.error.message"
      responseLength   = "$context.responseLength"
    })
  }

  tags = var.tags
}

resource "aws_lambda_permission" "route" {
  statement_id  = "AllowPublishRoute"
  action        = "lambda:InvokeFunction"
  function_name = var.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = local.route_arn
}

resource "aws_lambda_permission" "trace" {
  statement_id  = "AllowTraceRoute"
  action        = "lambda:InvokeFunction"
  function_name = var.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = local.trace_route_arn
}
