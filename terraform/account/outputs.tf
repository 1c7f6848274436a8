output "cloudwatch_role_arn" {
  description = "The role API Gateway now writes access logs with in this account and region."
  value       = module.api_gateway_account.cloudwatch_role_arn
}
