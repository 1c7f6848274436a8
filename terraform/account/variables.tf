# make account-logging passes aws_region and emulator_endpoint as the wspush root sees them
# (terraform/terraform.tfvars), so the setting lands where `make deploy` deploys.

variable "aws_region" {
  type        = string
  description = "AWS region whose API Gateway account setting to make."
  default     = "us-east-1"
}

variable "name" {
  type        = string
  description = "Prefix of the role's name, <name>-apigw-logs-<region>."
  default     = "wspush"
}

variable "emulator_endpoint" {
  type        = string
  description = "Point API Gateway, IAM and STS at this emulator URL (the deploy rehearsal sets it). Leave null for AWS."
  default     = null
}
