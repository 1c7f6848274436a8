variable "region" {
  type        = string
  description = "AWS region to deploy into."
  default     = "eu-west-1"
}

variable "stage_name" {
  type        = string
  description = "Stage of this deployment (the WebSocket URL's last segment)."
  default     = "staging"
}

variable "allowed_origins" {
  type        = list(string)
  description = "Browser origins allowed to connect."
  default     = ["https://orders.example.com"]
}

variable "alarm_email" {
  type        = string
  description = "Who gets the alarms (confirm the subscription mail); null for none."
  default     = null
}

variable "lambda_package" {
  type        = map(string)
  description = "The release's wspush-lambda-<version>.zip (the version in the module's ?ref=): { path = \"...\" } for a local file, or { s3_bucket = \"...\", s3_key = \"...\" } in the deployment's region."
}
