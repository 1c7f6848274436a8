variable "name" {
  type        = string
  description = "Prefix of every resource name; also the event bus name."
}

variable "push_function_name" {
  type        = string
  description = "Name of the push function."
}

variable "push_function_arn" {
  type        = string
  description = "ARN of the push function."
}

variable "schedule_expression" {
  type        = string
  description = "When scheduled pushes go out: rate(...) or cron(...)."
  default     = "rate(1 minute)"
}

variable "schedule_enabled" {
  type        = bool
  description = "Whether the schedule rule runs."
  default     = true
}

variable "scheduled_push" {
  type        = any
  description = "The push request each scheduled run sends: one audience key plus payload and type."
}

variable "notification_detail_type" {
  type        = string
  description = "detail-type of events on the bus that become pushes."
  default     = "wspush.notification"
}

variable "retry_attempts" {
  type        = number
  description = "EventBridge retries before an event is dead-lettered."
  default     = 4
}

variable "max_event_age_seconds" {
  type        = number
  description = "How long EventBridge keeps retrying an event."
  default     = 3600
}

variable "kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key for the dead-letter queue; null uses SQS-managed encryption."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
