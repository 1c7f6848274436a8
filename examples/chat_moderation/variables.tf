variable "aws_region" {
  type        = string
  description = "Region to deploy to."
  default     = "us-east-1"
}

variable "name" {
  type        = string
  description = "Prefix of every resource name; the stage name is appended."
  default     = "chat"
}

variable "stage_name" {
  type        = string
  description = "API Gateway stage name; the last path segment of the WebSocket URL."
  default     = "prod"

  # The longest name here is wspush's <name>-<stage>-disconnect-<region> role (regions have
  # up to 14 characters), and IAM allows 64.
  validation {
    condition     = length("${var.name}-${var.stage_name}") <= 38
    error_message = "name and stage_name together must be at most 38 characters: they prefix IAM role names, which IAM limits to 64."
  }
}

variable "lambda_package" {
  type        = map(string)
  description = "The release's wspush-lambda-<version>.zip (the version in the module's ?ref=): { path = \"...\" } for a local file, or { s3_bucket = \"...\", s3_key = \"...\" } in the deployment's region."
}

variable "moderate_package" {
  type        = map(string)
  description = "The release's wspush-chat-moderation-lambda-<version>.zip, the hook's code, given as lambda_package is."
}

variable "blocked_words" {
  type        = list(string)
  description = "Words that get a chat message rejected (whole words, any case)."
  default     = ["spam"]
}

variable "masked_words" {
  type        = list(string)
  description = "Words starred out of a chat message before it is sent (whole words, any case)."
  default     = ["darn"]
}

variable "messages_per_second" {
  type        = number
  description = "Chat messages per second one connection may send."
  default     = 5
}

variable "messages_burst" {
  type        = number
  description = "Chat messages one connection may send at once."
  default     = 10
}

variable "public_topic_patterns" {
  type        = list(string)
  description = "Topic patterns every connection may read besides the chat rooms (chat.*)."
  default     = []
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
