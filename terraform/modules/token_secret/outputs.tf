output "parameter_name" {
  description = "Name of the SSM parameter holding the secret."
  value       = aws_ssm_parameter.this.name
}

output "parameter_arn" {
  description = "ARN of the SSM parameter, for the authorizer's policy."
  value       = aws_ssm_parameter.this.arn
}
