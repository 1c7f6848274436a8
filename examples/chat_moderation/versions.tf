terraform {
  # 1.11: write-only attributes keep wspush's token secret out of state.
  required_version = ">= 1.11.0"

  # Local state by default; use an s3 backend for a shared deployment.
  backend "local" {}

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}
