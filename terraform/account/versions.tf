terraform {
  required_version = ">= 1.11.0"

  # Its own local state, apart from any deployment's (swap in an s3 backend for teams).
  backend "local" {}

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}
