output "parameter_name" {
  description = "Name of the SSM parameter holding the secret."
  value       = aws_ssm_parameter.this.name
}

output "parameter_arn" {
  description = "ARN of the SSM parameter, for the authorizer's policy."
  value       = aws_ssm_parameter.this.arn
}

output "kms_key_arn_in_use" {
  description = "Customer-managed key encrypting the parameter; null for the AWS-managed aws/ssm key."
  value       = aws_ssm_parameter.this.key_id
}
