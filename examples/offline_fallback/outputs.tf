# wspush's outputs under their own names (the wspush CLI and the local stack read them),
# plus the example's own.

output "websocket_url" {
  description = "wss:// URL clients connect to (append ?token=...)."
  value       = module.wspush.websocket_url
}

output "connections_url" {
  description = "https:// endpoint of the @connections management API."
  value       = module.wspush.connections_url
}

output "api_id" {
  description = "ID of the WebSocket API."
  value       = module.wspush.api_id
}

output "route_response_ids" {
  description = "Route response IDs by route key: the two-way routes, whose replies are route responses."
  value       = module.wspush.route_response_ids
}

output "stage_name" {
  description = "Name of the API stage."
  value       = module.wspush.stage_name
}

output "connections_table_name" {
  description = "Name of the connections table."
  value       = module.wspush.connections_table_name
}

output "function_names" {
  description = "Lambda function names by role."
  value       = module.wspush.function_names
}

output "event_bus_name" {
  description = "Event bus carrying wspush's events (wspush.push.undelivered among them)."
  value       = module.wspush.event_bus_name
}

output "dead_letter_queue_url" {
  description = "URL of wspush's push dead-letter queue."
  value       = module.wspush.dead_letter_queue_url
}

output "dead_letter_queue_arn" {
  description = "ARN of wspush's push dead-letter queue (the push function's async failures)."
  value       = module.wspush.dead_letter_queue_arn
}

output "token_secret_parameter_name" {
  description = "SSM parameter holding the token-signing secret."
  value       = module.wspush.token_secret_parameter_name
}

output "aws_region" {
  description = "Region of the deployment."
  value       = module.wspush.aws_region
}

output "publish_url" {
  description = "https:// URL of wspush's POST /publish."
  value       = module.wspush.publish_url
}

output "publish_api_id" {
  description = "ID of wspush's publish HTTP API."
  value       = module.wspush.publish_api_id
}

output "offline_queue_url" {
  description = "URL of the queue that receives wspush.push.undelivered events: your worker reads it."
  value       = aws_sqs_queue.offline.id
}

output "undelivered_rule_name" {
  description = "Name of the rule that sends undelivered pushes to the offline queue."
  value       = aws_cloudwatch_event_rule.undelivered.name
}
