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
  description = "Route response ID by route key for the two-way routes (their integration's body is the reply)."
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

output "connections_table_arn" {
  description = "ARN of the connections table."
  value       = module.wspush.connections_table_arn
}

output "history_table_name" {
  description = "Name of the history table (channel counters and kept pushes)."
  value       = module.wspush.history_table_name
}

output "history_table_arn" {
  description = "ARN of the history table."
  value       = module.wspush.history_table_arn
}

output "function_names" {
  description = "Lambda function names by role."
  value       = module.wspush.function_names
}

output "event_bus_name" {
  description = "Event bus whose wspush.notification events become pushes."
  value       = module.wspush.event_bus_name
}

output "schedule_rule_name" {
  description = "Name of the scheduled-push rule."
  value       = module.wspush.schedule_rule_name
}

output "notification_rule_name" {
  description = "Name of the notification rule on the event bus."
  value       = module.wspush.notification_rule_name
}

output "dead_letter_queue_url" {
  description = "URL of the push dead-letter queue."
  value       = module.wspush.dead_letter_queue_url
}

output "dead_letter_queue_arn" {
  description = "ARN of the push dead-letter queue: an invocation record for every asynchronous push that failed."
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

output "dashboard_url" {
  description = "CloudWatch dashboard (null with monitoring off)."
  value       = module.wspush.dashboard_url
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify (null with monitoring off)."
  value       = module.wspush.alarm_topic_arn
}

output "undelivered_queue_url" {
  description = "URL of the queue holding events EventBridge could not hand to the push function at all."
  value       = module.wspush.undelivered_queue_url
}

output "connections_table_deletion_protection" {
  description = "Whether the connections table refuses deletion (make destroy stops while it is on)."
  value       = module.wspush.connections_table_deletion_protection
}

output "kms_key_arn" {
  description = "The customer-managed key in use (created or supplied); null with AWS-managed encryption."
  value       = module.wspush.kms_key_arn
}

output "kms_key_policy_json" {
  description = "The key policy wspush needs: with create_kms_key the key has it; a key you supply via kms_key_arn needs its service statements (the account statement is KMS's default)."
  value       = module.wspush.kms_key_policy_json
}

output "publish_url" {
  description = "https:// URL of POST /publish (SigV4 for execute-api, or a JWT with publish_jwt_issuer)."
  value       = module.wspush.publish_url
}

output "publish_api_id" {
  description = "ID of the publish HTTP API."
  value       = module.wspush.publish_api_id
}

output "publish_caller_policy_json" {
  description = "Least-privilege IAM policy for callers of POST /publish: execute-api:Invoke on that route only (null with a JWT authorizer)."
  value       = module.wspush.publish_caller_policy_json
}
