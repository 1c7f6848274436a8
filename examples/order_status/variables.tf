variable "aws_region" {
  type        = string
  description = "Region to deploy to."
  default     = "us-east-1"
}

variable "name" {
  type        = string
  description = "Prefix of every resource name; the stage name is appended."
  default     = "orders"
}

variable "stage_name" {
  type        = string
  description = "API Gateway stage name; the last path segment of the WebSocket URL."
  default     = "prod"

  # The longest name here is the workflow's role, <name>-<stage>-order-workflow-<region>
  # (regions have up to 14 characters), and IAM allows 64.
  validation {
    condition     = length("${var.name}-${var.stage_name}") <= 34
    error_message = "name and stage_name together (\"${var.name}-${var.stage_name}\", ${length("${var.name}-${var.stage_name}")} characters) must be at most 34 characters: they prefix IAM role names such as \"${var.name}-${var.stage_name}-order-workflow-<region>\", which IAM limits to 64."
  }
}

variable "status_wait_seconds" {
  type = object({
    preparing        = number
    baking           = number
    out_for_delivery = number
    delivered        = number
  })
  description = "Seconds the workflow waits before it announces each status (received is announced at once)."
  default = {
    preparing        = 10
    baking           = 20
    out_for_delivery = 20
    delivered        = 30
  }

  validation {
    condition     = alltrue([for seconds in values(var.status_wait_seconds) : seconds >= 1 && seconds <= 86400 && floor(seconds) == seconds])
    error_message = "Each wait must be a whole number of seconds from 1 to 86400."
  }
}

variable "lambda_package" {
  type        = map(string)
  description = "The release's wspush-lambda-<version>.zip (the version in the module's ?ref=): { path = \"...\" } for a local file, or { s3_bucket = \"...\", s3_key = \"...\" } in the deployment's region."
}

variable "place_order_package" {
  type        = map(string)
  description = "The release's wspush-order-status-lambda-<version>.zip, the placeOrder function's code, given as lambda_package is."
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
