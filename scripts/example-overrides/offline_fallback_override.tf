# Inside the wspush repository only (make setup copies it to examples/offline_fallback as
# repository_override.tf, which git ignores): the example runs the working tree's module
# and the functions' code from `make build`, instead of a release.
module "wspush" {
  source = "../../terraform/modules/wspush"
}

variable "lambda_package" {
  default = null
}
