# API Gateway's account setting for one region, applied once per account and region with
# `make account-logging`, in a state of its own (terraform/account/terraform.tfstate):
# every REST and WebSocket API in the region shares it, so it outlives any one deployment
# of wspush. `make deploy` refuses to start while the setting is missing.

module "api_gateway_account" {
  source = "../modules/api_gateway_account"

  name = var.name
}
