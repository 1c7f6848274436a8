data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  # Built from the API and the stage *name* only, so functions can take these as
  # environment variables without waiting for the stage (which waits for them).
  # The DNS suffix comes from the partition (amazonaws.com, amazonaws.com.cn, ...).
  connections_url = "https://${aws_apigatewayv2_api.this.id}.execute-api.${data.aws_region.current.name}.${data.aws_partition.current.dns_suffix}/${var.stage_name}"
  authorized      = var.connect_authorizer != null
  # Each route's invoke permission, keyed by a name that is also its statement id's suffix
  # (Lambda allows ([a-zA-Z0-9-_]+), 100 characters). $-routes drop the $; a route key with
  # other characters (order.place), or one that would collide with a $-route's name
  # (default, connect, disconnect), gets them replaced and a hash of the key appended.
  dollar_route_names = [for route_key in keys(var.routes) : trimprefix(route_key, "$") if startswith(route_key, "$")]
  route_permissions = {
    for route_key, integration in var.routes :
    (startswith(route_key, "$") ? trimprefix(route_key, "$") :
      can(regex("^[A-Za-z0-9_-]+$", route_key)) && !contains(local.dollar_route_names, route_key) ? route_key :
    "${replace(route_key, "/[^A-Za-z0-9_-]/", "_")}-${substr(sha256(route_key), 0, 8)}") => { route_key = route_key, integration = integration }
  }
}

resource "aws_apigatewayv2_api" "this" {
  name                       = var.name
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
  tags                       = var.tags
}

resource "aws_apigatewayv2_authorizer" "this" {
  count = var.connect_authorizer == null ? 0 : 1

  api_id           = aws_apigatewayv2_api.this.id
  name             = "${var.name}-token"
  authorizer_type  = "REQUEST"
  authorizer_uri   = var.connect_authorizer.invoke_arn
  identity_sources = length(var.authorizer_identity_sources) == 0 ? null : var.authorizer_identity_sources
}

resource "aws_apigatewayv2_integration" "this" {
  for_each = var.integrations

  api_id             = aws_apigatewayv2_api.this.id
  integration_type   = "AWS_PROXY"
  integration_method = "POST"
  integration_uri    = each.value.invoke_arn
  # API Gateway refuses binary frames itself (close 1003) before any integration runs,
  # so this only matters for text; it is stated because the API stores it.
  content_handling_strategy = "CONVERT_TO_TEXT"
}

resource "aws_apigatewayv2_route" "this" {
  #checkov:skip=CKV_AWS_309:WebSocket authorizers run on $connect only; every later route rides on the connection $connect authorized.
  for_each = var.routes

  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.key
  target             = "integrations/${aws_apigatewayv2_integration.this[each.value].id}"
  authorization_type = each.key == "$connect" && local.authorized ? "CUSTOM" : "NONE"
  authorizer_id      = each.key == "$connect" && local.authorized ? aws_apigatewayv2_authorizer.this[0].id : null
  # Two-way routes: with a route response, API Gateway sends the integration's returned
  # body back to the client. $default is the only route response key WebSocket APIs allow.
  route_response_selection_expression = contains(var.two_way_routes, each.key) ? "$default" : null
}

resource "aws_apigatewayv2_route_response" "this" {
  for_each = toset(var.two_way_routes)

  api_id             = aws_apigatewayv2_api.this.id
  route_id           = aws_apigatewayv2_route.this[each.key].id
  route_response_key = "$default"
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
  #checkov:skip=CKV2_AWS_51:A stage client certificate authenticates API Gateway to HTTP backends; every integration here is a Lambda proxy. Clients authenticate with tokens on $connect.
  api_id = aws_apigatewayv2_api.this.id
  name   = var.stage_name
  # API Gateway redeploys the stage on every change to a route, integration or the
  # authorizer, so the stage can never serve a stale configuration.
  auto_deploy = true

  default_route_settings {
    # Unset limits mean 0 on some stages, and every call gets 429.
    throttling_burst_limit   = var.throttling_burst_limit
    throttling_rate_limit    = var.throttling_rate_limit
    detailed_metrics_enabled = var.detailed_metrics_enabled
    data_trace_enabled       = false
    logging_level            = "OFF"
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    # No query string and no headers: the token never reaches the logs.
    format = jsonencode({
      requestId        = "$context.requestId"
      connectionId     = "$context.connectionId"
      eventType        = "$context.eventType"
      routeKey         = "$context.routeKey"
      status           = "$context.status"
      requestTime      = "$context.requestTimeEpoch"
      sourceIp         = "$context.identity.sourceIp"
      principalId      = "$context.authorizer.principalId"
      authorizerError  = "$context.authorizer.error"
      integrationError = "$context.integration.error"
      integrationMs    = "$context.integrationLatency"
      errorMessage     = "$context.error.message"
    })
  }

  tags = var.tags

  # Access logging needs the account's API Gateway CloudWatch role (one per account and
  # region): when this configuration sets it, the stage waits for it.
  depends_on = [var.account_cloudwatch_role_arn]
}

resource "aws_lambda_permission" "route" {
  for_each = local.route_permissions

  statement_id  = "AllowApiGatewayRoute-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = var.integrations[each.value.integration].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/${var.stage_name}/${each.value.route_key}"
}

resource "aws_lambda_permission" "authorizer" {
  count = local.authorized ? 1 : 0

  statement_id  = "AllowApiGatewayAuthorizer"
  action        = "lambda:InvokeFunction"
  function_name = var.connect_authorizer.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.this[0].id}"
}
