variable "function_name" {
  type        = string
  description = "Name of the function; also names its role and log group."
}

variable "role_name" {
  type        = string
  description = "Name of the function's IAM role; null names it <function_name>-<region> (IAM names are account-wide, so the region keeps two regions' roles apart)."
  default     = null
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

variable "package" {
  type = object({
    path              = optional(string)
    s3_bucket         = optional(string)
    s3_key            = optional(string)
    s3_object_version = optional(string)
  })
  description = "The function's zip: a local `path` (its hash becomes source_code_hash), or an S3 object (`s3_bucket`, `s3_key`, optional `s3_object_version`) in the function's region."
  nullable    = false

  validation {
    condition     = (var.package.path != null) != (var.package.s3_bucket != null || var.package.s3_key != null)
    error_message = "package needs exactly one of path, or s3_bucket with s3_key."
  }

  validation {
    condition     = (var.package.s3_bucket == null) == (var.package.s3_key == null)
    error_message = "package's S3 object needs both s3_bucket and s3_key."
  }

  validation {
    condition     = var.package.path == null || fileexists(coalesce(var.package.path, "-"))
    error_message = "No function zip at package.path (${coalesce(var.package.path, "-")})."
  }
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
  description = "The function is invoked asynchronously (EventBridge): give it explicit retries, a maximum event age and var.on_failure_destination_arn."
  default     = false
}

variable "on_failure_destination_arn" {
  type        = string
  description = "SQS queue that receives an invocation record for every asynchronous invocation that failed (with var.async_invocation)."
  default     = null

  validation {
    condition     = !var.async_invocation || var.on_failure_destination_arn != null
    error_message = "An asynchronously invoked function needs on_failure_destination_arn: failed events must not be dropped."
  }
}

variable "async_retry_attempts" {
  type        = number
  description = "Lambda's retries of a failed asynchronous invocation (0-2) before the invocation record goes to the destination."
  default     = 0

  validation {
    condition     = var.async_retry_attempts >= 0 && var.async_retry_attempts <= 2
    error_message = "async_retry_attempts must be 0, 1 or 2 (Lambda's limits)."
  }
}

variable "async_max_event_age_seconds" {
  type        = number
  description = "Oldest asynchronous event still worth running (60-21600 s); older ones go to the destination."
  default     = 3600

  validation {
    condition     = var.async_max_event_age_seconds >= 60 && var.async_max_event_age_seconds <= 21600
    error_message = "async_max_event_age_seconds must be between 60 and 21600 (Lambda's limits)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource of the function."
  default     = {}
}
