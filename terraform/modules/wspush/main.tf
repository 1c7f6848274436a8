data "aws_region" "current" {}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  name = "${var.name}-${var.stage_name}"

  function_defaults = {
    authorizer = { memory_size = 256, timeout = 5 }
    connect    = { memory_size = 256, timeout = 5 }
    disconnect = { memory_size = 256, timeout = 5 }
    message    = { memory_size = 256, timeout = 10 }
    publish    = { memory_size = 256, timeout = 15 }
    push       = { memory_size = 512, timeout = 60 }
  }
  function_settings = {
    for name, defaults in local.function_defaults : name => {
      memory_size = coalesce(try(var.function_settings[name].memory_size, null), defaults.memory_size)
      timeout     = coalesce(try(var.function_settings[name].timeout, null), defaults.timeout)
    }
  }

  common_environment = {
    POWERTOOLS_SERVICE_NAME      = "wspush"
    POWERTOOLS_METRICS_NAMESPACE = "wspush"
    POWERTOOLS_LOG_LEVEL         = "INFO"
    STAGE_NAME                   = var.stage_name
    # Lambda's active tracing records every invocation; the X-Ray SDK inside the
    # function (subsegments per AWS call) costs ~150 ms of cold start, so it is opt-in.
    POWERTOOLS_TRACE_DISABLED = tostring(!var.xray_sdk_tracing)
    CONNECTIONS_TABLE         = module.connections_table.table_name
    HISTORY_TABLE             = module.history_table.table_name
    # Empty turns lifecycle events (and the occupancy counts behind them) off.
    LIFECYCLE_EVENT_BUS = var.lifecycle_events_enabled ? module.push_schedule.event_bus_name : ""
  }

  # Lifecycle events: connect publishes them; disconnect, message and push also count
  # topic occupancy. With them off, no function gets either grant.
  publish_lifecycle_policies = var.lifecycle_events_enabled ? [data.aws_iam_policy_document.publish_lifecycle_events.json] : []
  lifecycle_policies = var.lifecycle_events_enabled ? [
    data.aws_iam_policy_document.publish_lifecycle_events.json,
    data.aws_iam_policy_document.count_topic_occupancy.json,
  ] : []

  # The connection's rows outlive API Gateway's 2-hour maximum by a margin.
  connection_ttl_seconds = 2 * 60 * 60 + 10 * 60

  # Built from the name, not module.functions (publish's policy would depend on itself).
  push_function_name = "${local.name}-push"
  push_function_arn  = "arn:${data.aws_partition.current.partition}:lambda:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:function:${local.push_function_name}"
  # The publish function waits this long for a small audience's report, then answers 202.
  publish_sync_wait_seconds = 10
}

# --- State: connections and the token secret ------------------------------------------

module "connections_table" {
  source = "../connections_table"

  name                = "${local.name}-connections"
  deletion_protection = var.deletion_protection
  kms_key_arn         = var.kms_key_arn
}

module "history_table" {
  source = "../history_table"

  name                = "${local.name}-history"
  deletion_protection = var.deletion_protection
  kms_key_arn         = var.kms_key_arn
}

module "token_secret" {
  source = "../token_secret"

  parameter_name = "/${var.name}/${var.stage_name}/token-secret"
  value          = var.token_secret
  value_version  = var.token_secret_version
  kms_key_arn    = var.kms_key_arn
}

# --- Least-privilege policy documents, one per function --------------------------------

data "aws_iam_policy_document" "authorizer" {
  statement {
    sid       = "ReadTokenSecret"
    actions   = ["ssm:GetParameter"]
    resources = [module.token_secret.parameter_arn]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]

    content {
      sid       = "DecryptTokenSecret"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

data "aws_iam_policy_document" "publish_lifecycle_events" {
  statement {
    sid       = "PublishLifecycleEvents"
    actions   = ["events:PutEvents"]
    resources = [module.push_schedule.event_bus_arn]
  }
}

data "aws_iam_policy_document" "count_topic_occupancy" {
  statement {
    sid       = "CountTopicOccupancy"
    actions   = ["dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [module.history_table.table_arn]
  }
}

data "aws_iam_policy_document" "connect" {
  source_policy_documents = local.publish_lifecycle_policies

  statement {
    sid       = "StoreConnection"
    actions   = ["dynamodb:PutItem"]
    resources = [module.connections_table.table_arn]
  }
}

data "aws_iam_policy_document" "disconnect" {
  source_policy_documents = local.lifecycle_policies

  statement {
    sid       = "FindConnectionRows"
    actions   = ["dynamodb:Query"]
    resources = [module.connections_table.connection_index_arn]
  }

  # In batches; with lifecycle events on, one by one, so that each deletion is known.
  statement {
    sid       = "DeleteConnectionRows"
    actions   = var.lifecycle_events_enabled ? ["dynamodb:DeleteItem"] : ["dynamodb:BatchWriteItem"]
    resources = [module.connections_table.table_arn]
  }
}

data "aws_iam_policy_document" "message" {
  source_policy_documents = local.lifecycle_policies

  # A subscription row and the connection row's count change in one TransactWriteItems,
  # which IAM authorizes as its Put, Update and Delete actions.
  statement {
    sid       = "StoreSubscriptions"
    actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [module.connections_table.table_arn]
  }

  statement {
    sid       = "ReadPresence"
    actions   = ["dynamodb:Query"]
    resources = [module.connections_table.table_arn]
  }

  statement {
    sid       = "ReadHistory"
    actions   = ["dynamodb:GetItem", "dynamodb:Query"]
    resources = [module.history_table.table_arn]
  }

  statement {
    sid       = "ReplyToSender"
    actions   = ["execute-api:ManageConnections"]
    resources = [module.websocket_api.manage_connections_arn]
  }

  # Without an authorizer, message events carry no entityId: it is read from the index.
  dynamic "statement" {
    for_each = var.auth_disabled ? [module.connections_table.connection_index_arn] : []

    content {
      sid       = "FindConnectionOwner"
      actions   = ["dynamodb:Query"]
      resources = [statement.value]
    }
  }
}

data "aws_iam_policy_document" "push" {
  source_policy_documents = local.lifecycle_policies

  statement {
    sid       = "ReadAudience"
    actions   = ["dynamodb:Query", "dynamodb:Scan"]
    resources = [module.connections_table.table_arn, module.connections_table.connection_index_arn]
  }

  statement {
    sid       = "ForgetGoneConnections"
    actions   = ["dynamodb:DeleteItem"]
    resources = [module.connections_table.table_arn]
  }

  statement {
    sid       = "PostToConnections"
    actions   = ["execute-api:ManageConnections"]
    resources = [module.websocket_api.manage_connections_arn]
  }

  statement {
    # Claim the push id, take the channel's next number, keep the envelope (one
    # transaction of a Put and an Update), read a kept envelope back for a retried push.
    sid       = "NumberAndKeepPushes"
    actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"]
    resources = [module.history_table.table_arn]
  }

  statement {
    sid       = "InvokeOwnShardsAndHandOns"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.push_function_arn]
  }
}

# --- Push at any audience size: shards are invocations of the push function itself ----
# (the statement above; local.push_function_arn is built from the name, so the function's
# own policy does not wait for the function)

locals {
  push_sharding_environment = {
    PUSH_SHARD_SIZE        = tostring(var.push_shard_size)
    PUSH_SHARD_PARALLELISM = tostring(var.push_shard_parallelism)
    PUSH_RATE_LIMIT        = tostring(var.push_rate_limit)
  }
}

data "aws_iam_policy_document" "publish" {
  statement {
    sid       = "CountSmallAudiences"
    actions   = ["dynamodb:Query"]
    resources = [module.connections_table.table_arn]
  }

  statement {
    sid       = "HandOffToPush"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.push_function_arn]
  }
}

# --- Functions ---------------------------------------------------------------------------

locals {
  # What differs between the functions; the lambda_function module does the rest.
  function_definitions = {
    authorizer = {
      description = "Verifies the connection token on $connect."
      policy_json = data.aws_iam_policy_document.authorizer.json
      environment = tomap({
        TOKEN_SECRET_PARAMETER = module.token_secret.parameter_name
        ALLOWED_ORIGINS        = join(",", var.allowed_origins)
        TOKEN_AUDIENCE         = var.token_audience != null ? var.token_audience : ""
        TOKEN_ISSUER           = var.token_issuer != null ? var.token_issuer : ""
      })
    }
    connect = {
      description = "Stores a new connection under its entity."
      policy_json = data.aws_iam_policy_document.connect.json
      environment = tomap({
        CONNECTION_TTL_SECONDS = tostring(local.connection_ttl_seconds)
        AUTH_DISABLED          = tostring(var.auth_disabled)
      })
    }
    disconnect = {
      description = "Deletes a closed connection's rows."
      policy_json = data.aws_iam_policy_document.disconnect.json
      environment = tomap({})
    }
    message = {
      description = "Answers ping, subscribe, unsubscribe, resume, presence and unknown actions."
      policy_json = data.aws_iam_policy_document.message.json
      environment = tomap({
        CONNECTIONS_ENDPOINT             = module.websocket_api.connections_url
        CONNECTION_TTL_SECONDS           = tostring(local.connection_ttl_seconds)
        PUBLIC_TOPIC_PATTERNS            = join(",", var.public_topic_patterns)
        MAX_SUBSCRIPTIONS_PER_CONNECTION = tostring(var.max_subscriptions_per_connection)
        RESUME_MAX_MESSAGES              = tostring(var.resume_max_messages)
      })
    }
    publish = {
      description = "POST /publish: validates push requests and hands them to the push function."
      policy_json = data.aws_iam_policy_document.publish.json
      environment = tomap({
        PUSH_FUNCTION_NAME        = local.push_function_name
        PUBLISH_SYNC_MAX_TARGETS  = tostring(var.publish_sync_max_targets)
        PUBLISH_SYNC_WAIT_SECONDS = tostring(local.publish_sync_wait_seconds)
      })
    }
    push = {
      description = "Fans a message out to an entity, a topic, a connection or everyone."
      policy_json = data.aws_iam_policy_document.push.json
      environment = merge(tomap({
        CONNECTIONS_ENDPOINT      = module.websocket_api.connections_url
        PUSH_CONCURRENCY          = tostring(var.push_concurrency)
        SCHEDULED_MESSAGE         = jsonencode(var.scheduled_message)
        HISTORY_RETENTION_SECONDS = tostring(var.history_retention_hours * 3600)
      }), local.push_sharding_environment)
    }
  }
}

module "functions" {
  source   = "../lambda_function"
  for_each = local.function_definitions

  function_name      = "${local.name}-${each.key}"
  description        = each.value.description
  handler            = "wspush.handlers.${each.key}.handler"
  package_path       = "${var.package_dir}/${each.key}.zip"
  policy_json        = each.value.policy_json
  memory_size        = local.function_settings[each.key].memory_size
  timeout            = local.function_settings[each.key].timeout
  log_retention_days = var.log_retention_days
  environment        = merge(local.common_environment, each.value.environment)
  # Only push is invoked asynchronously (EventBridge); its failures are dead-lettered.
  async_invocation       = each.key == "push"
  dead_letter_target_arn = each.key == "push" ? module.push_schedule.dead_letter_queue_arn : null
}

# --- WebSocket API and schedule ---------------------------------------------------------

locals {
  # The routes wspush answers itself; var.custom_routes adds others beside them.
  builtin_routes = {
    "$connect"    = "connect"
    "$disconnect" = "disconnect"
    "$default"    = "message"
    "ping"        = "message"
    "subscribe"   = "message"
    "unsubscribe" = "message"
    "resume"      = "message"
    "presence"    = "message"
  }

  # Each custom route gets a Lambda proxy integration of its own, named after the route.
  integrations = merge(
    {
      for name in distinct(values(local.builtin_routes)) :
      name => { function_name = module.functions[name].function_name, invoke_arn = module.functions[name].invoke_arn }
    },
    { for route_key, function in var.custom_routes : "route-${route_key}" => function },
  )
  routes = merge(
    local.builtin_routes,
    { for route_key in keys(var.custom_routes) : route_key => "route-${route_key}" },
  )
}

module "websocket_api" {
  source = "../websocket_api"

  name         = local.name
  stage_name   = var.stage_name
  integrations = local.integrations
  routes       = local.routes
  connect_authorizer = var.auth_disabled ? null : {
    function_name = module.functions["authorizer"].function_name
    invoke_arn    = module.functions["authorizer"].invoke_arn
  }
  authorizer_identity_sources = var.require_query_token ? ["route.request.querystring.token"] : []
  throttling_burst_limit      = var.throttling_burst_limit
  throttling_rate_limit       = var.throttling_rate_limit
  log_retention_days          = var.log_retention_days
  manage_account_logging_role = var.manage_api_gateway_account
}

module "push_schedule" {
  source = "../push_schedule"

  name                = local.name
  push_function_name  = module.functions["push"].function_name
  push_function_arn   = module.functions["push"].function_arn
  schedule_expression = var.schedule_expression
  schedule_enabled    = var.schedule_enabled
  scheduled_push      = merge(var.scheduled_audience, { type = "scheduled", payload = var.scheduled_message })
  kms_key_arn         = var.kms_key_arn
}

# --- Publish API: POST /publish over HTTPS -----------------------------------------------

module "publish_api" {
  source = "../publish_api"

  name                   = "${local.name}-publish"
  stage_name             = var.stage_name
  function_name          = module.functions["publish"].function_name
  invoke_arn             = module.functions["publish"].invoke_arn
  jwt_issuer             = var.publish_jwt_issuer
  jwt_audience           = var.publish_jwt_audience
  throttling_burst_limit = var.throttling_burst_limit
  throttling_rate_limit  = var.throttling_rate_limit
  log_retention_days     = var.log_retention_days
}

# What a caller's role needs to publish, and nothing more: the one route, on this stage.
data "aws_iam_policy_document" "publish_caller" {
  statement {
    sid       = "PublishToWspush"
    actions   = ["execute-api:Invoke"]
    resources = [module.publish_api.route_arn]
  }
}

# --- Operations --------------------------------------------------------------------------

module "monitoring" {
  source = "../monitoring"
  count  = var.monitoring_enabled ? 1 : 0

  name                      = local.name
  stage_name                = var.stage_name
  metrics_namespace         = local.common_environment.POWERTOOLS_METRICS_NAMESPACE
  function_names            = { for role, function in module.functions : role => function.function_name }
  push_log_group_name       = module.functions["push"].log_group_name
  authorizer_log_group_name = module.functions["authorizer"].log_group_name
  api_id                    = module.websocket_api.api_id
  table_name                = module.connections_table.table_name
  dead_letter_queue_name    = module.push_schedule.dead_letter_queue_name
  gone_rate_threshold       = var.gone_rate_alarm_threshold
  alarm_email               = var.alarm_email
  kms_key_arn               = var.kms_key_arn
}
