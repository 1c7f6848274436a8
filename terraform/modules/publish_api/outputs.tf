output "api_id" {
  description = "ID of the HTTP API."
  value       = aws_apigatewayv2_api.this.id
}

output "publish_url" {
  description = "https:// URL of POST /publish."
  value       = "${aws_apigatewayv2_api.this.api_endpoint}/${var.stage_name}/publish"
}

output "route_arn" {
  description = "execute-api ARN of POST /publish on the stage (what callers are granted)."
  value       = local.route_arn
}

output "trace_route_arn" {
  description = "execute-api ARN of GET /publish/{id} (a push's trace) on the stage."
  value       = local.trace_route_arn
}

output "authorization_type" {
  description = "How POST /publish authenticates callers: AWS_IAM or JWT."
  value       = aws_apigatewayv2_route.this.authorization_type
}
