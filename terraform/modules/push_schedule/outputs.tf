output "event_bus_name" {
  description = "Event bus that carries notification events."
  value       = aws_cloudwatch_event_bus.this.name
}

output "event_bus_arn" {
  description = "ARN of the notification event bus."
  value       = aws_cloudwatch_event_bus.this.arn
}

output "schedule_rule_name" {
  description = "Name of the schedule rule."
  value       = aws_cloudwatch_event_rule.schedule.name
}

output "notification_rule_name" {
  description = "Name of the notification rule."
  value       = aws_cloudwatch_event_rule.notification.name
}

output "rule_arns" {
  description = "ARNs of the two rules (schedule, notification) that invoke the push function."
  value       = { for key, rule in local.rules : key => rule.arn }
}

output "dead_letter_queue_arn" {
  description = "ARN of the push dead-letter queue, built from its name (known before the queue exists: for IAM policies)."
  value       = local.queue_arns.dead_letter
}

output "dead_letter_queue_destination_arn" {
  description = "ARN of the push dead-letter queue once it exists: the push function's on-failure destination."
  value       = aws_sqs_queue.this["dead_letter"].arn
}

output "dead_letter_queue_url" {
  description = "URL of the push dead-letter queue."
  value       = aws_sqs_queue.this["dead_letter"].id
}

output "dead_letter_queue_name" {
  description = "Name of the push dead-letter queue."
  value       = aws_sqs_queue.this["dead_letter"].name
}

output "undelivered_queue_arn" {
  description = "ARN of the queue for events EventBridge could not deliver to the push function."
  value       = local.queue_arns.undelivered
}

output "undelivered_queue_url" {
  description = "URL of the queue for events EventBridge could not deliver to the push function."
  value       = aws_sqs_queue.this["undelivered"].id
}

output "undelivered_queue_name" {
  description = "Name of the queue for events EventBridge could not deliver to the push function."
  value       = aws_sqs_queue.this["undelivered"].name
}

output "kms_key_arn_in_use" {
  description = "Customer-managed key encrypting both queues; null for SQS-managed encryption."
  value       = one(distinct([for queue in aws_sqs_queue.this : queue.kms_master_key_id]))
}
