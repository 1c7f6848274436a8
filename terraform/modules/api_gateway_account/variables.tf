variable "name" {
  type        = string
  description = "Prefix of the role's name, <name>-apigw-logs-<region> (IAM allows 64 characters)."

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,38}$", var.name))
    error_message = "name must be 1-38 of the characters IAM allows in role names (letters, digits, + = , . @ _ -), leaving room for -apigw-logs-<region>."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags for the role."
  default     = {}
}
