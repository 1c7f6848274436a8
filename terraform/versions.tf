terraform {
  # 1.11: write-only attributes keep the token secret out of state.
  required_version = ">= 1.11.0"

  # State stays local by default (terraform.tfstate here). The local stack keeps its own
  # state elsewhere with -backend-config=path=...; swap in an s3 backend for teams.
  backend "local" {}

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}
