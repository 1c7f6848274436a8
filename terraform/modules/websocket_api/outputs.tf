output "api_id" {
  description = "ID of the WebSocket API."
  value       = aws_apigatewayv2_api.this.id
}

output "execution_arn" {
  description = "Execution ARN of the API, the prefix of every route and @connections ARN."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "websocket_url" {
  description = "wss:// URL clients connect to."
  value       = "${replace(aws_apigatewayv2_api.this.api_endpoint, "/^https:/", "wss:")}/${var.stage_name}"
}

output "connections_url" {
  description = "https:// endpoint of the @connections management API for this stage."
  value       = local.connections_url
}

output "manage_connections_arn" {
  description = "The only ARN execute-api:ManageConnections needs: POST to @connections on this stage."
  value       = "${aws_apigatewayv2_api.this.execution_arn}/${var.stage_name}/POST/@connections/*"
}

output "route_response_ids" {
  description = "Route response ID by route key, for every two-way route."
  value       = { for key, response in aws_apigatewayv2_route_response.this : key => response.id }
}

output "stage_name" {
  description = "Name of the stage."
  value       = aws_apigatewayv2_stage.this.name
}

output "access_log_group_name" {
  description = "Log group of the stage's access logs."
  value       = aws_cloudwatch_log_group.access.name
}

output "route_permission_statement_ids" {
  description = "The Lambda permission statement id of each route's integration, by route key."
  value       = { for name, permission in local.route_permissions : permission.route_key => aws_lambda_permission.route[name].statement_id }
}
