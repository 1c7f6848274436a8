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

output "dead_letter_queue_arn" {
  description = "ARN of the push dead-letter queue."
  value       = aws_sqs_queue.dead_letter.arn
}

output "dead_letter_queue_url" {
  description = "URL of the push dead-letter queue."
  value       = aws_sqs_queue.dead_letter.id
}

output "dead_letter_queue_name" {
  description = "Name of the push dead-letter queue."
  value       = aws_sqs_queue.dead_letter.name
}
