variable "parameter_name" {
  type        = string
  description = "SSM parameter name for the secret."
}

variable "value" {
  type        = string
  description = "The secret to store; null generates one at apply."
  default     = null
  sensitive   = true
  ephemeral   = true
}

variable "value_version" {
  type        = number
  description = "Bump to write a new value (rotation)."
  default     = 1
}

variable "kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key for the SecureString; null uses the AWS-managed aws/ssm key."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags for the parameter."
  default     = {}
}
