variable "name" {
  type        = string
  description = "Prefix of the queue names."
}

variable "function_name" {
  type        = string
  description = "The receipts function, which reads the ack-timeout queue."
}

variable "function_timeout_seconds" {
  type        = number
  description = "The receipts function's timeout: the queue's visibility timeout is six times it."
}

variable "max_receive_count" {
  type        = number
  description = "Receives of a failing check before the receipts function sends it to the dead-letter queue."
  default     = 5
}

variable "kms_key_arn" {
  type        = string
  description = "Customer-managed key for both queues; null uses SQS-managed encryption."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
