# Inside the wspush repository only (make setup copies it to examples/chat_moderation as
# repository_override.tf, which git ignores): the example runs the working tree's modules
# and the functions' code from `make build`, instead of a release.
module "wspush" {
  source = "../../terraform/modules/wspush"
}

module "moderate" {
  source = "../../terraform/modules/lambda_function"
}

variable "lambda_package" {
  default = null
}

variable "moderate_package" {
  default = { path = "../../dist/chat_moderation.zip" }
}
