# Plan-only: custom routes sit beside wspush's own, each with its own integration and an
# invoke permission scoped to exactly that route.
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  lambda_package = { path = "tests/fixtures/lambda.zip" }
}

run "no_custom_routes_by_default" {
  command = plan

  assert {
    condition     = keys(local.routes) == keys(local.builtin_routes) && length(local.integrations) == 3
    error_message = "Without custom routes the API has exactly wspush's six routes."
  }
}

run "custom_route_beside_builtin_ones" {
  command = plan

  variables {
    custom_routes = {
      placeOrder = {
        function_name = "orders-place-order"
        invoke_arn    = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:orders-place-order/invocations"
      }
    }
  }

  assert {
    condition     = toset(keys(local.routes)) == toset(["$connect", "$disconnect", "$default", "ping", "subscribe", "unsubscribe", "resume", "presence", "publish", "ack", "placeOrder"])
    error_message = "A custom route must be added beside wspush's own routes, which stay."
  }

  assert {
    condition     = local.routes["placeOrder"] == "route-placeOrder" && local.integrations["route-placeOrder"].invoke_arn == "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:orders-place-order/invocations"
    error_message = "A custom route must get its own Lambda proxy integration with the given invoke ARN."
  }

  assert {
    condition     = local.integrations["route-placeOrder"].function_name == "orders-place-order"
    error_message = "The custom route's function must be named, for its invoke permission."
  }
}

run "custom_route_key_must_be_an_action" {
  command = plan

  variables {
    custom_routes = {
      "$connect" = { function_name = "f", invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/f" }
    }
  }

  expect_failures = [var.custom_routes]
}

run "custom_route_cannot_replace_builtin" {
  command = plan

  variables {
    custom_routes = {
      subscribe = { function_name = "f", invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/f" }
    }
  }

  expect_failures = [var.custom_routes]
}

run "custom_route_permission_is_scoped_to_its_route" {
  command = plan

  module {
    source = "../websocket_api"
  }

  variables {
    name       = "wspush-prod"
    stage_name = "prod"
    integrations = {
      connect            = { function_name = "c", invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/c" }
      message            = { function_name = "m", invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/m" }
      "route-placeOrder" = { function_name = "orders-place-order", invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/p" }
    }
    routes = {
      "$connect"    = "connect"
      "$disconnect" = "connect"
      "$default"    = "message"
      "placeOrder"  = "route-placeOrder"
    }
    throttling_burst_limit = 100
    throttling_rate_limit  = 50
  }

  assert {
    condition     = aws_apigatewayv2_integration.this["route-placeOrder"].integration_uri == "arn:aws:apigateway:us-east-1:lambda:path/p" && aws_apigatewayv2_integration.this["route-placeOrder"].integration_type == "AWS_PROXY"
    error_message = "A custom route must get its own Lambda proxy integration."
  }

  assert {
    condition = (
      aws_lambda_permission.route["placeOrder"].function_name == "orders-place-order" &&
      aws_lambda_permission.route["placeOrder"].source_arn == "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/placeOrder"
    )
    error_message = "The custom route's invoke permission must be scoped to that route alone."
  }
}

run "custom_route_keys_get_valid_distinct_statement_ids" {
  command = plan

  variables {
    custom_routes = {
      "order.place" = { function_name = "orders-place", invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/p" }
      "order_place" = { function_name = "orders-place", invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/p" }
      default       = { function_name = "orders-default", invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/d" }
    }
  }

  assert {
    condition     = length(module.websocket_api.route_permission_statement_ids) == 13 && length(distinct(values(module.websocket_api.route_permission_statement_ids))) == 13
    error_message = "Every route, built-in or custom, needs an invoke permission of its own (default must not collide with $default, order.place with order_place)."
  }

  assert {
    condition     = alltrue([for id in values(module.websocket_api.route_permission_statement_ids) : can(regex("^[A-Za-z0-9_-]{1,100}$", id))])
    error_message = "Statement ids must match Lambda's ([a-zA-Z0-9-_]+), at most 100 characters."
  }

  assert {
    condition     = module.websocket_api.route_permission_statement_ids["$default"] == "AllowApiGatewayRoute-default" && module.websocket_api.route_permission_statement_ids["ping"] == "AllowApiGatewayRoute-ping"
    error_message = "The built-in routes keep their statement ids (no permission is replaced on upgrade)."
  }
}
