variable "name" {
  type        = string
  description = "Prefix of alarm, topic, query and dashboard names."
}

variable "stage_name" {
  type        = string
  description = "API stage; also the stage dimension of wspush's metrics."
}

variable "metrics_namespace" {
  type        = string
  description = "CloudWatch namespace of wspush's metrics (POWERTOOLS_METRICS_NAMESPACE)."
  default     = "wspush"
}

variable "function_names" {
  type        = map(string)
  description = "Function names by role (authorizer, connect, disconnect, message, push)."
}

variable "push_log_group_name" {
  type        = string
  description = "Log group of the push function."
}

variable "authorizer_log_group_name" {
  type        = string
  description = "Log group of the authorizer."
}

variable "api_id" {
  type        = string
  description = "ID of the WebSocket API."
}

variable "table_name" {
  type        = string
  description = "Name of the connections table."
}

variable "dead_letter_queue_names" {
  type        = list(string)
  description = "Queues whose depth alarms: the push dead-letter queue first, then any others."
}

variable "gone_rate_threshold" {
  type        = number
  description = "Alarm when more than this share (0-1) of targeted connections answer 410 in five minutes."
  default     = 0.5

  validation {
    condition     = var.gone_rate_threshold > 0 && var.gone_rate_threshold <= 1
    error_message = "gone_rate_threshold must be a share between 0 (exclusive) and 1."
  }
}

variable "gone_rate_min_targeted" {
  type        = number
  description = "Ignore the gone rate below this many targeted connections (a few stale rows are normal)."
  default     = 20
}

variable "alarm_email" {
  type        = string
  description = "Email address subscribed to the alarm topic; null for none."
  default     = null
}

variable "kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key for the alarm topic; its key policy must let cloudwatch.amazonaws.com use it. null leaves the topic unencrypted (CloudWatch cannot use the AWS-managed aws/sns key)."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}

variable "identity_provider_alarm" {
  type        = bool
  description = "Whether to alarm when a trusted identity provider's signing keys (JWKS) cannot be fetched (the JwksFetchFailed metric); on when the stack trusts OIDC issuers."
  default     = false
  nullable    = false
}

variable "failed_rate_threshold" {
  type        = number
  description = "Alarm when more than this share (0-1) of pushes end failed in five minutes."
  default     = 0.05
}

variable "unacknowledged_rate_threshold" {
  type        = number
  description = "Alarm when more than this share (0-1) of pushes asking for receipts go unacknowledged in five minutes."
  default     = 0.2
}
