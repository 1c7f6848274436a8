# Plan-only: routes, authorizer, stage throttling and logging of the WebSocket API.
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  lambda_package = { path = "tests/fixtures/lambda.zip" }
}

run "routes_and_authorizer" {
  command = plan

  assert {
    condition     = module.websocket_api.api_id == "a1b2c3d4e5"
    error_message = "The API must be created."
  }

  assert {
    condition     = output.websocket_url == "wss://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod"
    error_message = "websocket_url must be the wss:// endpoint with the stage."
  }

  assert {
    condition     = output.connections_url == "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod"
    error_message = "connections_url must be the https:// @connections endpoint of the stage."
  }

  assert {
    condition     = toset(keys(output.route_response_ids)) == toset(["$default", "ping", "subscribe", "unsubscribe", "resume", "presence", "publish"])
    error_message = "Every message route must be two-way: the message function's reply is its returned body."
  }
}

run "api_module" {
  command = plan

  module {
    source = "../websocket_api"
  }

  variables {
    name       = "wspush-prod"
    stage_name = "prod"
    integrations = {
      connect = { function_name = "c", invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/c" }
      message = { function_name = "m", invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/m" }
      gone    = { function_name = "d", invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/d" }
    }
    routes = {
      "$connect"    = "connect"
      "$disconnect" = "gone"
      "$default"    = "message"
      "ping"        = "message"
      "subscribe"   = "message"
      "unsubscribe" = "message"
    }
    two_way_routes         = ["ping", "subscribe"]
    connect_authorizer     = { function_name = "a", invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/a" }
    throttling_burst_limit = 100
    throttling_rate_limit  = 50
  }

  assert {
    condition     = aws_apigatewayv2_api.this.protocol_type == "WEBSOCKET" && aws_apigatewayv2_api.this.route_selection_expression == "$request.body.action"
    error_message = "A WebSocket API routing on $request.body.action is required."
  }

  assert {
    condition     = toset(keys(aws_apigatewayv2_route.this)) == toset(["$connect", "$disconnect", "$default", "ping", "subscribe", "unsubscribe"])
    error_message = "Exactly the six routes are expected."
  }

  assert {
    condition = alltrue([
      for key, route in aws_apigatewayv2_route.this :
      key == "$connect" ? route.authorization_type == "CUSTOM" && route.authorizer_id == "auth123" : route.authorization_type == "NONE"
    ])
    error_message = "The authorizer must guard $connect (WebSocket authorizers apply to $connect only)."
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.this[0].authorizer_type == "REQUEST"
    error_message = "The $connect authorizer must be a REQUEST authorizer."
  }

  assert {
    condition     = alltrue([for integration in aws_apigatewayv2_integration.this : integration.integration_type == "AWS_PROXY"])
    error_message = "Integrations must be Lambda proxy integrations."
  }

  assert {
    condition = (
      aws_apigatewayv2_stage.this.default_route_settings[0].throttling_burst_limit == 100 &&
      aws_apigatewayv2_stage.this.default_route_settings[0].throttling_rate_limit == 50
    )
    error_message = "Stage throttling must be explicit."
  }

  assert {
    condition     = aws_apigatewayv2_stage.this.auto_deploy
    error_message = "The stage must redeploy on every route, integration or authorizer change."
  }

  assert {
    condition     = !strcontains(aws_apigatewayv2_stage.this.access_log_settings[0].format, "querystring") && !strcontains(aws_apigatewayv2_stage.this.access_log_settings[0].format, "header")
    error_message = "Access logs must not log the query string or headers (the token travels there)."
  }

  assert {
    condition = (
      aws_lambda_permission.route["connect"].source_arn == "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/$connect" &&
      aws_lambda_permission.route["ping"].source_arn == "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/ping" &&
      aws_lambda_permission.authorizer[0].source_arn == "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/authorizers/auth123"
    )
    error_message = "Lambda permissions must be scoped to the API's own routes and authorizer."
  }

  assert {
    condition     = output.manage_connections_arn == "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/@connections/*"
    error_message = "ManageConnections must be scoped to POST on this stage."
  }

  assert {
    condition = alltrue([
      for key, route in aws_apigatewayv2_route.this :
      route.route_response_selection_expression == (contains(["ping", "subscribe"], key) ? "$default" : null)
    ])
    error_message = "Exactly the two-way routes select the $default route response."
  }

  assert {
    condition = (
      toset(keys(aws_apigatewayv2_route_response.this)) == toset(["ping", "subscribe"]) &&
      alltrue([for response in aws_apigatewayv2_route_response.this : response.route_response_key == "$default"])
    )
    error_message = "Each two-way route needs its $default route response (the only key WebSocket APIs allow)."
  }
}

run "two_way_connect_is_refused" {
  command = plan

  module {
    source = "../websocket_api"
  }

  variables {
    name                   = "wspush-prod"
    stage_name             = "prod"
    integrations           = { message = { function_name = "m", invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/m" } }
    routes                 = { "$connect" = "message", "$disconnect" = "message", "$default" = "message" }
    two_way_routes         = ["$connect", "nope"]
    throttling_burst_limit = 100
    throttling_rate_limit  = 50
  }

  expect_failures = [var.two_way_routes]
}

run "demo_mode_has_no_authorizer" {
  command = plan

  variables {
    auth_disabled = true
  }

  assert {
    condition     = module.websocket_api.api_id == "a1b2c3d4e5"
    error_message = "Demo mode must still plan."
  }
}
