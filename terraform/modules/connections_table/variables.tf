variable "name" {
  type        = string
  description = "Name of the connections table."
}

variable "connection_index_name" {
  type        = string
  description = "Name of the global secondary index keyed on connectionId (the Lambda code expects byConnection)."
  default     = "byConnection"
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the table until this is turned off."
  default     = true
}

variable "kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key for server-side encryption; null uses the AWS-owned key (free, no KMS requests)."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags for the table."
  default     = {}
}
