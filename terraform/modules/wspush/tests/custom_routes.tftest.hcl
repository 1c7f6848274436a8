# Plan-only: custom routes sit beside wspush's own, each with its own integration and an
# invoke permission scoped to exactly that route.
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  package_dir = "../../../dist"
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
    condition     = toset(keys(local.routes)) == toset(["$connect", "$disconnect", "$default", "ping", "subscribe", "unsubscribe", "resume", "presence", "placeOrder"])
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
