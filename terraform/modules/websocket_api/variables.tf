variable "name" {
  type        = string
  description = "Name of the WebSocket API."
}

variable "stage_name" {
  type        = string
  description = "Name of the stage; the last segment of the wss:// URL."
}

variable "integrations" {
  type = map(object({
    function_name = string
    invoke_arn    = string
  }))
  description = "Lambda proxy integrations by logical name."
}

variable "routes" {
  type        = map(string)
  description = "Route key (e.g. $connect, ping) to the name of its entry in var.integrations."

  validation {
    condition     = alltrue([for key in ["$connect", "$disconnect", "$default"] : contains(keys(var.routes), key)])
    error_message = "routes must define $connect, $disconnect and $default."
  }
}

variable "two_way_routes" {
  type        = list(string)
  description = "Route keys whose integration's returned body is sent back to the client (a $default route response); other routes are one-way."
  default     = []

  validation {
    condition     = alltrue([for key in var.two_way_routes : contains(keys(var.routes), key) && !contains(["$connect", "$disconnect"], key)])
    error_message = "two_way_routes must be message routes defined in routes ($connect and $disconnect have no message to answer)."
  }
}

variable "connect_authorizer" {
  type = object({
    function_name = string
    invoke_arn    = string
  })
  description = "The REQUEST authorizer function for $connect; null leaves $connect open (demo mode only)."
  default     = null
}

variable "authorizer_identity_sources" {
  type        = list(string)
  description = "Request parameters that must be present before the authorizer runs (API Gateway answers 401 without them); empty runs it on every connect."
  default     = []
}

variable "throttling_burst_limit" {
  type        = number
  description = "Stage-wide burst limit (requests)."
}

variable "throttling_rate_limit" {
  type        = number
  description = "Stage-wide steady rate limit (requests per second)."
}

variable "detailed_metrics_enabled" {
  type        = bool
  description = "Per-route CloudWatch metrics."
  default     = true
}

variable "log_retention_days" {
  type        = number
  description = "Days to keep access logs."
  default     = 30
}

variable "log_kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key for the access log group; null uses CloudWatch Logs' own encryption."
  default     = null
}

variable "account_cloudwatch_role_arn" {
  type        = string
  description = "The account's API Gateway CloudWatch role when the same configuration sets it (modules/api_gateway_account): the stage, whose access logging needs it, is created after it. null when the setting is made elsewhere (make account-logging)."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
