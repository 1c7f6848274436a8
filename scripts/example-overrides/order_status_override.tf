# Inside the wspush repository only (make setup copies it to examples/order_status as
# repository_override.tf, which git ignores): the example runs the working tree's modules
# and the functions' code from `make build`, instead of a release.
module "wspush" {
  source = "../../terraform/modules/wspush"
}

module "place_order" {
  source = "../../terraform/modules/lambda_function"
}

variable "lambda_package" {
  default = null
}

variable "place_order_package" {
  default = { path = "../../dist/order_status.zip" }
}
