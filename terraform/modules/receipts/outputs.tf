output "queue_arn" {
  description = "ARN of the ack-timeout queue (built from its name: known before the queue exists)."
  value       = local.queue_arns.queue
}

output "queue_url" {
  description = "URL of the ack-timeout queue, the push function sends to it (built from its name: known before the queue exists)."
  value       = local.queue_urls.queue
}

output "dead_letter_queue_arn" {
  description = "ARN of the ack-timeout checks' dead-letter queue (built from its name: known before the queue exists)."
  value       = local.queue_arns.dead_letter
}

output "dead_letter_queue_url" {
  description = "URL of the ack-timeout checks' dead-letter queue, the receipts function sends a check that keeps failing to it (built from its name: known before the queue exists)."
  value       = local.queue_urls.dead_letter
}

output "max_receive_count" {
  description = "Receives of a failing check after which the receipts function sends it to the dead-letter queue."
  value       = var.max_receive_count
}

output "dead_letter_queue_name" {
  description = "Name of the ack-timeout checks' dead-letter queue."
  value       = local.queue_names.dead_letter
}
