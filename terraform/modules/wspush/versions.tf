terraform {
  # 1.11: write-only attributes keep the token secret out of state.
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.87 introduced the write-only value_wo of aws_ssm_parameter. The root's lock file
      # pins the exact version; a module only states the minimum it needs.
      version = ">= 5.87"
    }
  }
}
