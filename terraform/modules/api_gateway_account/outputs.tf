output "cloudwatch_role_arn" {
  description = "The role API Gateway writes access logs with, now the account's setting in this region."
  value       = aws_api_gateway_account.this.cloudwatch_role_arn
}

output "role_name" {
  description = "Name of that role."
  value       = aws_iam_role.this.name
}
