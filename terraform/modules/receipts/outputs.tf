output "queue_arn" {
  description = "ARN of the ack-timeout queue."
  value       = aws_sqs_queue.this.arn
}

output "queue_url" {
  description = "URL of the ack-timeout queue (the push function sends to it)."
  value       = aws_sqs_queue.this.url
}

output "dead_letter_queue_arn" {
  description = "ARN of the ack-timeout checks' dead-letter queue."
  value       = aws_sqs_queue.dead_letter.arn
}

output "dead_letter_queue_name" {
  description = "Name of the ack-timeout checks' dead-letter queue."
  value       = aws_sqs_queue.dead_letter.name
}
