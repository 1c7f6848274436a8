output "table_name" {
  description = "Name of the connections table."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "ARN of the connections table."
  value       = aws_dynamodb_table.this.arn
}

output "connection_index_arn" {
  description = "ARN of the connectionId index."
  value       = "${aws_dynamodb_table.this.arn}/index/${var.connection_index_name}"
}

output "connection_index_name" {
  description = "Name of the connectionId index."
  value       = var.connection_index_name
}

output "deletion_protection" {
  description = "Whether the table refuses deletion."
  value       = aws_dynamodb_table.this.deletion_protection_enabled
}

output "kms_key_arn_in_use" {
  description = "Customer-managed key encrypting the table; null for the AWS-owned key."
  value       = one(aws_dynamodb_table.this.server_side_encryption[*].kms_key_arn)
}
