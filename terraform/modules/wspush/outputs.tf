output "websocket_url" {
  description = "wss:// URL clients connect to (append ?token=...)."
  value       = module.websocket_api.websocket_url
}

output "connections_url" {
  description = "https:// endpoint of the @connections management API."
  value       = module.websocket_api.connections_url
}

output "api_id" {
  description = "ID of the WebSocket API."
  value       = module.websocket_api.api_id
}

output "route_response_ids" {
  description = "Route response ID by route key for the two-way routes (their integration's body is the reply)."
  value       = module.websocket_api.route_response_ids
}

output "stage_name" {
  description = "Name of the API stage."
  value       = module.websocket_api.stage_name
}

output "connections_table_name" {
  description = "Name of the connections table."
  value       = module.connections_table.table_name
}

output "connections_table_arn" {
  description = "ARN of the connections table."
  value       = module.connections_table.table_arn
}

output "function_names" {
  description = "Lambda function names by role."
  value       = { for role, function in module.functions : role => function.function_name }
}

output "event_bus_name" {
  description = "Event bus whose wspush.notification events become pushes."
  value       = module.push_schedule.event_bus_name
}

output "schedule_rule_name" {
  description = "Name of the scheduled-push rule."
  value       = module.push_schedule.schedule_rule_name
}

output "notification_rule_name" {
  description = "Name of the notification rule on the event bus."
  value       = module.push_schedule.notification_rule_name
}

output "dead_letter_queue_url" {
  description = "URL of the push dead-letter queue."
  value       = module.push_schedule.dead_letter_queue_url
}

output "dead_letter_queue_arn" {
  description = "ARN of the push dead-letter queue: an invocation record for every asynchronous push that failed."
  value       = module.push_schedule.dead_letter_queue_arn
}

output "token_secret_parameter_name" {
  description = "SSM parameter holding the token-signing secret."
  value       = module.token_secret.parameter_name
}

output "aws_region" {
  description = "Region of the deployment."
  value       = data.aws_region.current.name
}

output "dashboard_url" {
  description = "CloudWatch dashboard (null with monitoring off)."
  value       = one(module.monitoring[*].dashboard_url)
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify (null with monitoring off)."
  value       = one(module.monitoring[*].alarm_topic_arn)
}

output "history_table_name" {
  description = "Name of the history table (channel counters and kept pushes)."
  value       = module.history_table.table_name
}

output "history_table_arn" {
  description = "ARN of the history table."
  value       = module.history_table.table_arn
}

output "undelivered_queue_url" {
  description = "URL of the queue holding events EventBridge could not hand to the push function at all."
  value       = module.push_schedule.undelivered_queue_url
}

output "connections_table_deletion_protection" {
  description = "Whether the connections table refuses deletion (make destroy stops while it is on)."
  value       = module.connections_table.deletion_protection
}

output "kms_key_arn" {
  description = "The customer-managed key in use (created or supplied); null with AWS-managed encryption."
  value       = local.kms_key_arn
}

output "kms_key_policy_json" {
  description = "The key policy wspush needs: with create_kms_key the key has it; a key you supply via kms_key_arn needs its service statements (the account statement is KMS's default)."
  value       = data.aws_iam_policy_document.kms_key.json
}

output "push_settings" {
  description = "How a push is split, paced and retried: shard size, shard parallelism, the posts-per-second cap of one push, and Lambda's retries and maximum event age for an asynchronous push."
  value = {
    shard_size            = var.push_shard_size
    shard_parallelism     = var.push_shard_parallelism
    rate_limit            = var.push_rate_limit
    retry_attempts        = var.push_retry_attempts
    max_event_age_seconds = var.push_max_event_age_seconds
  }
}

output "connect_settings" {
  description = "Which tokens $connect accepts: wspush's own (hs256_enabled) and those of the trusted OIDC issuers (their issuer URLs)."
  value = {
    hs256_enabled = var.connect_hs256_enabled
    oidc_issuers  = [for entry in var.connect_oidc_issuers : entry.issuer]
  }
}

output "manage_connections_arn" {
  description = "The ARN a custom route's function needs for execute-api:ManageConnections to reply to its caller: POST to @connections on this stage."
  value       = module.websocket_api.manage_connections_arn
}

output "event_bus_arn" {
  description = "ARN of the event bus; grant events:PutEvents on it to publish events for your own rules."
  value       = module.push_schedule.event_bus_arn
}

output "push_function_arn" {
  description = "ARN of the push function, for your own EventBridge rules that target it."
  value       = module.functions["push"].function_arn
}

output "publish_url" {
  description = "https:// URL of POST /publish (SigV4 for execute-api, or a JWT with publish_jwt_issuer)."
  value       = module.publish_api.publish_url
}

output "publish_api_id" {
  description = "ID of the publish HTTP API."
  value       = module.publish_api.api_id
}

output "publish_caller_policy_json" {
  description = "Least-privilege IAM policy for callers of POST /publish: execute-api:Invoke on that route only (null with a JWT authorizer)."
  value       = var.publish_jwt_issuer == null ? data.aws_iam_policy_document.publish_caller.json : null
}

output "api_gateway_cloudwatch_role_arn" {
  description = "The API Gateway CloudWatch role this deployment set as the account's (manage_api_gateway_account); null when the setting is made elsewhere."
  value       = var.manage_api_gateway_account ? module.api_gateway_account[0].cloudwatch_role_arn : null
}
