variable "aws_region" {
  type        = string
  description = "Region to deploy to (the user pool's issuer URL names it)."
  default     = "us-east-1"
}

variable "name" {
  type        = string
  description = "Prefix of every resource name; the stage name is appended."
  default     = "cognito-demo"
}

variable "stage_name" {
  type        = string
  description = "API Gateway stage name; the last path segment of the WebSocket URL."
  default     = "prod"
}

variable "group_topics" {
  type        = map(list(string))
  description = "Topic patterns each user pool group grants its members (the groups are created with these names)."
  default = {
    admins = ["*"]
    staff  = ["orders.*"]
  }
  nullable = false
}

variable "public_topic_patterns" {
  type        = list(string)
  description = "Topic patterns every signed-in user may subscribe to, whatever their groups."
  default     = ["news"]
}

variable "lambda_package" {
  type        = map(string)
  description = "The release's wspush-lambda-<version>.zip (the version in the module's ?ref=): { path = \"...\" } for a local file, or { s3_bucket = \"...\", s3_key = \"...\" } in the deployment's region."
}

variable "deletion_protection" {
  type        = bool
  description = "Protect wspush's connections table and the user pool from deletion."
  default     = true
}

variable "manage_api_gateway_account" {
  type        = bool
  description = "Create the account-level CloudWatch role API Gateway needs for access logs. Turn off if the account already has one."
  default     = true
}

variable "monitoring_enabled" {
  type        = bool
  description = "Create wspush's alarms (including the one for the user pool's keys), dashboard and saved log queries."
  default     = true
}

variable "log_retention_days" {
  type        = number
  description = "Retention of every log group, in days (a value CloudWatch Logs accepts)."
  default     = 30
}

variable "emulator_endpoint" {
  type        = string
  description = "Point every AWS service at this emulator URL (the local stack sets it). Leave null for AWS."
  default     = null
}
