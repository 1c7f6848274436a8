variable "aws_region" {
  type        = string
  description = "Region to deploy to."
  default     = "us-east-1"
}

variable "name" {
  type        = string
  description = "Prefix of every resource name; the stage name is appended."
  default     = "inbox"
}

variable "stage_name" {
  type        = string
  description = "API Gateway stage name; the last path segment of the WebSocket URL."
  default     = "prod"

}

variable "lambda_package" {
  type        = map(string)
  description = "The release's wspush-lambda-<version>.zip (the version in the module's ?ref=): { path = \"...\" } for a local file, or { s3_bucket = \"...\", s3_key = \"...\" } in the deployment's region."
}

variable "deletion_protection" {
  type        = bool
  description = "Protect wspush's connections table from deletion."
  default     = true
}

variable "manage_api_gateway_account" {
  type        = bool
  description = "Create API Gateway's account-level CloudWatch role (one per account and region) and own it: it is reset when this example is destroyed. Off, set it once with `make account-logging` (or leave the role the account already has)."
  default     = false
}

variable "monitoring_enabled" {
  type        = bool
  description = "Create wspush's alarms, dashboard and saved log queries."
  default     = true
}

variable "public_topic_patterns" {
  type        = list(string)
  description = "Topic patterns every authenticated connection may subscribe to (wspush's topics; the order statuses go to the entity, not a topic)."
  default     = []
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

variable "ack_timeout_seconds" {
  type        = number
  description = "How long (1-900 s) a push asking for receipts waits before wspush.push.unacknowledged."
  default     = 60
}
