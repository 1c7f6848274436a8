variable "function_name" {
  type        = string
  description = "Name of the function; also names its role and log group."
}

variable "description" {
  type        = string
  description = "What the function does."
  default     = ""
}

variable "handler" {
  type        = string
  description = "Handler path inside the zip, e.g. wspush.handlers.connect.handler."
}

variable "package_path" {
  type        = string
  description = "Path of the zip built by build.sh."
}

variable "environment" {
  type        = map(string)
  description = "Environment variables (names and endpoints; never secrets)."
  default     = {}
}

variable "policy_json" {
  type        = string
  description = "IAM policy document with exactly the access this function needs."
}

variable "memory_size" {
  type        = number
  description = "Memory in MB."
  default     = 256
}

variable "timeout" {
  type        = number
  description = "Timeout in seconds."
  default     = 10
}

variable "reserved_concurrency" {
  type        = number
  description = "Reserved concurrent executions; -1 leaves the function unreserved."
  default     = -1
}

variable "log_retention_days" {
  type        = number
  description = "Days to keep the function's logs."
  default     = 30
}

variable "log_kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key for the log group; null uses CloudWatch Logs' own encryption."
  default     = null
}

variable "async_invocation" {
  type        = bool
  description = "The function is invoked asynchronously (EventBridge): give it a retry policy and var.dead_letter_target_arn."
  default     = false
}

variable "dead_letter_target_arn" {
  type        = string
  description = "SQS queue for asynchronous invocations that fail every retry (with var.async_invocation)."
  default     = null

  validation {
    condition     = !var.async_invocation || var.dead_letter_target_arn != null
    error_message = "An asynchronously invoked function needs dead_letter_target_arn: failed events must not be dropped."
  }
}

variable "async_retry_attempts" {
  type        = number
  description = "Retries of a failed asynchronous invocation before it is dead-lettered."
  default     = 2
}

variable "async_max_event_age_seconds" {
  type        = number
  description = "Oldest asynchronous event still worth delivering."
  default     = 3600
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource of the function."
  default     = {}
}
