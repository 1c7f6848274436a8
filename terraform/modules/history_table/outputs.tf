output "table_name" {
  description = "Name of the history table."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "ARN of the history table."
  value       = aws_dynamodb_table.this.arn
}

output "kms_key_arn_in_use" {
  description = "Customer-managed key encrypting the table; null for the AWS-owned key."
  value       = one(aws_dynamodb_table.this.server_side_encryption[*].kms_key_arn)
}
