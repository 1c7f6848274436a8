variable "name" {
  type        = string
  description = "Name of the HTTP API."
}

variable "stage_name" {
  type        = string
  description = "Name of the stage; the path segment before /publish."
}

variable "function_name" {
  type        = string
  description = "Name of the publish function the route invokes."
}

variable "invoke_arn" {
  type        = string
  description = "Invoke ARN of the publish function."
}

variable "jwt_issuer" {
  type        = string
  description = "Issuer URL of a JWT authorizer; null keeps IAM (SigV4) authorization."
  default     = null
}

variable "jwt_audience" {
  type        = list(string)
  description = "Audiences the JWT authorizer accepts (with var.jwt_issuer)."
  default     = []
}

variable "timeout_milliseconds" {
  type        = number
  description = "Integration timeout (HTTP APIs allow at most 30000)."
  default     = 30000
}

variable "throttling_burst_limit" {
  type        = number
  description = "Stage burst limit."
}

variable "throttling_rate_limit" {
  type        = number
  description = "Stage steady-state limit in requests per second."
}

variable "log_retention_days" {
  type        = number
  description = "Days to keep the access logs."
  default     = 30
}

variable "log_kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key for the access log group; null uses CloudWatch Logs' own encryption."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
