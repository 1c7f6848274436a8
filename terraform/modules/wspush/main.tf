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
    receipts   = { memory_size = 256, timeout = 10 }
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
    POWERTOOLS_LOG_LEVEL         = var.log_level
    STAGE_NAME                   = var.stage_name
    # Lambda's active tracing records every invocation; the X-Ray SDK inside the
    # function (subsegments per AWS call) costs ~150 ms of cold start, so it is opt-in.
    POWERTOOLS_TRACE_DISABLED = tostring(!var.xray_sdk_tracing)
    CONNECTIONS_TABLE         = module.connections_table.table_name
    HISTORY_TABLE             = module.history_table.table_name
    # Empty turns lifecycle events (and the occupancy counts behind them) off.
    LIFECYCLE_EVENT_BUS = var.lifecycle_events_enabled ? module.push_schedule.event_bus_name : ""
  }

  # The connection's rows outlive API Gateway's 2-hour maximum by a margin.
  connection_ttl_seconds = 2 * 60 * 60 + 10 * 60

  # Built from the name, not module.functions (publish's policy would depend on itself).
  push_function_name = "${local.name}-push"
  push_function_arn  = "arn:${data.aws_partition.current.partition}:lambda:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:function:${local.push_function_name}"
  # The publish function waits this long for a small audience's report, then answers 202.
  publish_sync_wait_seconds = 10
  # A client publish to at most this many subscribers (and push_shard_size) is fanned out
  # by the message function before it replies; a larger audience by the push function.
  client_publish_inline_targets = 100
}

# --- The customer-managed key (create_kms_key), or the one supplied (kms_key_arn) --------
#
# One key encrypts the table, the token secret, both queues and the alarm topic. Who may
# use it, and how:
# - functions, through their IAM policies: every statement in local.function_access that
#   names an ARN of local.encrypted_resources gets kms:* actions for that service only
#   (kms:ViaService), on this key only;
# - AWS services that write on their own, through the key policy: local.kms_service_grants.
# To encrypt a new resource, add it to local.encrypted_resources (and, if a service writes
# to it with no role of ours, add the service to local.kms_service_grants); to give a new
# function access, add its statements to local.function_access. tests/kms.tftest.hcl then
# checks every principal that touches an encrypted resource can use the key.

locals {
  kms_key_arn = var.create_kms_key ? aws_kms_key.this[0].arn : var.kms_key_arn

  encrypted_resources = {
    connections_table = { service = "dynamodb", arns = [module.connections_table.table_arn, module.connections_table.connection_index_arn] }
    history_table     = { service = "dynamodb", arns = [module.history_table.table_arn] }
    token_secret      = { service = "ssm", arns = [module.token_secret.parameter_arn] }
    dead_letter_queue = { service = "sqs", arns = [module.push_schedule.dead_letter_queue_arn] }
    undelivered_queue = { service = "sqs", arns = [module.push_schedule.undelivered_queue_arn] }
    ack_timeout_queue = { service = "sqs", arns = [module.receipts.queue_arn, module.receipts.dead_letter_queue_arn] }
    # Built from its name: the topic itself waits for the functions (its alarms name them).
    alarm_topic = { service = "sns", arns = var.monitoring_enabled ? ["arn:${data.aws_partition.current.partition}:sns:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${local.name}-alarms"] : [] }
  }

  # Services that encrypt with the key as themselves, not through one of our roles. The
  # alarm topic's ARN cannot appear here (the topic waits for the key), so CloudWatch is
  # limited to this account instead of to its resources.
  kms_service_grants = merge(
    {
      EventBridgeDeadLetters = {
        service   = "events.amazonaws.com"
        actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
        condition = { test = "ArnEquals", variable = "aws:SourceArn", values = values(module.push_schedule.rule_arns) }
      }
    },
    var.monitoring_enabled ? {
      CloudWatchAlarmsToTopic = {
        service   = "cloudwatch.amazonaws.com"
        actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
        condition = { test = "StringEquals", variable = "aws:SourceAccount", values = [data.aws_caller_identity.current.account_id] }
      }
    } : {},
  )
}

data "aws_iam_policy_document" "kms_key" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" is the key itself; the account statement is KMS's default and lets IAM policies (with kms:ViaService) grant use.
  #checkov:skip=CKV_AWS_111:As above: in a key policy "*" means this key only.
  #checkov:skip=CKV_AWS_356:As above: in a key policy "*" means this key only.
  statement {
    sid       = "AccountManagesTheKeyAndIamGrantsUse"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  dynamic "statement" {
    for_each = local.kms_service_grants

    content {
      sid       = statement.key
      actions   = statement.value.actions
      resources = ["*"]

      principals {
        type        = "Service"
        identifiers = [statement.value.service]
      }

      condition {
        test     = statement.value.condition.test
        variable = statement.value.condition.variable
        values   = statement.value.condition.values
      }
    }
  }
}

resource "aws_kms_key" "this" {
  count = var.create_kms_key ? 1 : 0

  description             = "wspush ${local.name}: connections table, token secret, queues and alarm topic."
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_key.json
}

resource "aws_kms_alias" "this" {
  count = var.create_kms_key ? 1 : 0

  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.this[0].key_id
}

# --- State: connections and the token secret ------------------------------------------

module "connections_table" {
  source = "../connections_table"

  name                = "${local.name}-connections"
  deletion_protection = var.deletion_protection
  kms_key_arn         = local.kms_key_arn
}

module "history_table" {
  source = "../history_table"

  name                = "${local.name}-history"
  deletion_protection = var.deletion_protection
  kms_key_arn         = local.kms_key_arn
}

module "token_secret" {
  source = "../token_secret"

  parameter_name = "/${var.name}/${var.stage_name}/token-secret"
  value          = var.token_secret
  value_version  = var.token_secret_version
  kms_key_arn    = local.kms_key_arn
}

# --- Least-privilege access, one list of statements per function -------------------------

locals {
  # What each function may do, on exact ARNs. Statements that name an encrypted resource
  # (local.encrypted_resources) get their KMS statement added by the policy document below.
  # Lifecycle events: every function but the authorizer publishes them; those that add or
  # remove subscription rows also count topic occupancy. With them off, neither grant.
  publish_lifecycle_events = var.lifecycle_events_enabled ? [
    { sid = "PublishLifecycleEvents", actions = ["events:PutEvents"], resources = [module.push_schedule.event_bus_arn] },
  ] : []
  # Live presence from $disconnect: read the topic's members and subscribers, post to them.
  announce_presence = length(var.presence_topic_patterns) > 0 ? [
    { sid = "ReadPresenceAudience", actions = ["dynamodb:Query"], resources = [module.connections_table.table_arn] },
    { sid = "AnnouncePresence", actions = ["execute-api:ManageConnections"], resources = [module.websocket_api.manage_connections_arn] },
  ] : []
  count_topic_occupancy = var.lifecycle_events_enabled ? [
    { sid = "CountTopicOccupancy", actions = ["dynamodb:UpdateItem"], resources = [module.history_table.table_arn] },
  ] : []

  # A client publish (the publish action): numbered and kept like any push, fanned out by
  # the message function to a small audience (posting through ReplayToSender's grant,
  # forgetting gone connections found through the index), handed to the push function
  # beyond it; the hook and the event bus only when configured.
  client_publish_access = concat(
    [
      { sid = "NumberAndKeepClientPublishes", actions = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"], resources = [module.history_table.table_arn] },
      { sid = "ForgetGoneSubscribers", actions = ["dynamodb:Query"], resources = [module.connections_table.connection_index_arn] },
      { sid = "HandLargeAudiencesToPush", actions = ["lambda:InvokeFunction"], resources = [local.push_function_arn] },
    ],
    var.client_publish_hook_arn != null ? [
      { sid = "CallClientPublishHook", actions = ["lambda:InvokeFunction"], resources = [var.client_publish_hook_arn] },
    ] : [],
    length(var.client_publish_event_patterns) > 0 ? [
      { sid = "PublishClientPublishedEvents", actions = ["events:PutEvents"], resources = [module.push_schedule.event_bus_arn] },
    ] : [],
  )

  function_access = {
    # Tokens of connect_oidc_issuers need no grant: their keys are public, fetched over HTTPS.
    authorizer = var.connect_hs256_enabled ? [
      { sid = "ReadTokenSecret", actions = ["ssm:GetParameter"], resources = [module.token_secret.parameter_arn] },
    ] : []
    connect = concat([
      { sid = "StoreConnection", actions = ["dynamodb:PutItem"], resources = [module.connections_table.table_arn] },
    ], local.publish_lifecycle_events)
    disconnect = concat([
      { sid = "FindConnectionRows", actions = ["dynamodb:Query"], resources = [module.connections_table.connection_index_arn] },
      # The connection row first (DeleteItem, returning the topics it names), then its
      # subscriptions in batches or, with lifecycle events on, one by one, so that each
      # deletion is known.
      { sid = "DeleteConnectionRows", actions = var.lifecycle_events_enabled ? ["dynamodb:DeleteItem"] : ["dynamodb:DeleteItem", "dynamodb:BatchWriteItem"], resources = [module.connections_table.table_arn] },
    ], local.count_topic_occupancy, local.publish_lifecycle_events, local.announce_presence)
    message = concat(
      [
        # A subscription row and the connection row's topics change in TransactWriteItems,
        # which IAM authorizes as its Put, Update and ConditionCheck actions; the row is
        # marked counted, deleted, and the connection's budget taken with single writes.
        { sid = "StoreSubscriptions", actions = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"], resources = [module.connections_table.table_arn] },
        # Replies are route responses (the message routes are two-way); this is for the
        # pushes a resume replays before its reply, which go through @connections.
        { sid = "ReplayToSender", actions = ["execute-api:ManageConnections"], resources = [module.websocket_api.manage_connections_arn] },
        { sid = "ReadPresence", actions = ["dynamodb:Query"], resources = [module.connections_table.table_arn] },
        { sid = "ReadHistory", actions = ["dynamodb:GetItem", "dynamodb:Query"], resources = [module.history_table.table_arn] },
      ],
      local.count_topic_occupancy,
      local.publish_lifecycle_events,
      # Without an authorizer, message events carry no entityId: it is read from the index.
      var.auth_disabled ? [
        { sid = "FindConnectionOwner", actions = ["dynamodb:Query"], resources = [module.connections_table.connection_index_arn] },
      ] : [],
      local.client_publish_access,
      # An ack updates the receipt the push wrote (never creates one) and reads it back.
      [{ sid = "AcknowledgePushes", actions = ["dynamodb:UpdateItem", "dynamodb:GetItem"], resources = [module.history_table.table_arn] }],
    )
    publish = [
      { sid = "CountSmallAudiences", actions = ["dynamodb:Query"], resources = [module.connections_table.table_arn] },
      # A caller's push id already claimed on its audience with other content is a 409.
      { sid = "CheckPushIdClaims", actions = ["dynamodb:GetItem"], resources = [module.history_table.table_arn] },
      { sid = "HandOffToPush", actions = ["lambda:InvokeFunction"], resources = [local.push_function_arn] },
      # GET /publish/{id}: a push's trace, the items of its trace#<id> partition.
      { sid = "ReadPushTraces", actions = ["dynamodb:Query"], resources = [module.history_table.table_arn] },
    ]
    push = concat([
      { sid = "ReadAudience", actions = ["dynamodb:Query"], resources = [module.connections_table.table_arn, module.connections_table.connection_index_arn] },
      # A broadcast reads every row with a segmented Scan of the table (never of the index).
      { sid = "ReadEveryConnection", actions = ["dynamodb:Scan"], resources = [module.connections_table.table_arn] },
      { sid = "ForgetGoneConnections", actions = ["dynamodb:DeleteItem"], resources = [module.connections_table.table_arn] },
      { sid = "PostToConnections", actions = ["execute-api:ManageConnections"], resources = [module.websocket_api.manage_connections_arn] },
      # Shards and hand-ons are invocations of the push function itself.
      { sid = "InvokeOwnShardsAndHandOns", actions = ["lambda:InvokeFunction"], resources = [local.push_function_arn] },
      # Lambda writes the push function's invocation records with the function's own role.
      { sid = "RecordFailedInvocations", actions = ["sqs:SendMessage"], resources = [module.push_schedule.dead_letter_queue_arn] },
      # Claim the push id, take the channel's next number, keep the envelope (one
      # transaction of a Put and an Update), read a kept envelope back for a retried push;
      # write each invocation's part of the push's trace (PutItem).
      { sid = "NumberAndKeepPushes", actions = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"], resources = [module.history_table.table_arn] },
      ], local.count_topic_occupancy, local.publish_lifecycle_events, [
      # A topic audience spread over the topic's and its patterns' partitions, sharded:
      # each page's connections are read back (their subscriptions) to send one copy each.
      { sid = "ReadSubscriptionsOfTargets", actions = ["dynamodb:BatchGetItem"], resources = [module.connections_table.table_arn] },
      # A push asking for receipts schedules its check on the ack-timeout queue.
      { sid = "ScheduleAckTimeouts", actions = ["sqs:SendMessage"], resources = [module.receipts.queue_arn] },
      # wspush.push.undelivered (a personal push that reached no one).
      { sid = "PublishPushOutcomes", actions = ["events:PutEvents"], resources = [module.push_schedule.event_bus_arn] },
    ])
    receipts = [
      # The event source mapping receives and deletes the checks with the function's role.
      { sid = "ReadAckTimeouts", actions = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], resources = [module.receipts.queue_arn] },
      { sid = "ReadAndMarkReceipts", actions = ["dynamodb:GetItem", "dynamodb:UpdateItem"], resources = [module.history_table.table_arn] },
      { sid = "PublishUnacknowledged", actions = ["events:PutEvents"], resources = [module.push_schedule.event_bus_arn] },
      # The function dead-letters a check that keeps failing itself (the queue has no
      # redrive policy: docs/receipts.md).
      { sid = "DeadLetterAckTimeouts", actions = ["sqs:SendMessage"], resources = [module.receipts.dead_letter_queue_arn] },
    ]
  }

  # What a principal needs on the key to use a resource through each service.
  kms_actions_by_service = {
    dynamodb = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    ssm      = ["kms:Decrypt"]
    sqs      = ["kms:Decrypt", "kms:GenerateDataKey"]
    sns      = ["kms:Decrypt", "kms:GenerateDataKey"]
  }

  # Per function, the services through which it touches an encrypted resource.
  function_kms_services = {
    for function, statements in local.function_access : function => local.kms_key_arn == null ? [] : sort(distinct(flatten([
      for statement in statements : [
        for resource in local.encrypted_resources : resource.service
        if length(setintersection(toset(resource.arns), toset(statement.resources))) > 0
      ]
    ])))
  }
}

data "aws_iam_policy_document" "function" {
  for_each = local.function_access

  dynamic "statement" {
    for_each = each.value

    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }

  # The key, only as the service that holds the resource uses it on the function's behalf.
  dynamic "statement" {
    for_each = local.function_kms_services[each.key]

    content {
      sid       = "UseKeyVia${title(statement.value)}"
      actions   = local.kms_actions_by_service[statement.value]
      resources = [local.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["${statement.value}.${data.aws_region.current.name}.${data.aws_partition.current.dns_suffix}"]
      }
    }
  }
}

# --- Push at any audience size: shards are invocations of the push function itself ----
# (InvokeOwnShardsAndHandOns in local.function_access; local.push_function_arn is built
# from the name, so the function's own policy does not wait for the function)

locals {
  # Live presence: the functions that add or remove subscription rows announce members.
  presence_environment = length(var.presence_topic_patterns) > 0 ? {
    PRESENCE_TOPIC_PATTERNS = join(",", var.presence_topic_patterns)
    PRESENCE_MAX_MEMBERS    = tostring(var.presence_max_members)
    PUSH_SHARD_SIZE         = tostring(var.push_shard_size)
  } : {}

  push_sharding_environment = {
    PUSH_SHARD_SIZE        = tostring(var.push_shard_size)
    PUSH_SHARD_PARALLELISM = tostring(var.push_shard_parallelism)
    PUSH_RATE_LIMIT        = tostring(var.push_rate_limit)
    PUSH_MAX_HAND_ONS      = tostring(var.push_max_hand_ons)
    PUSH_MAX_AGE_SECONDS   = tostring(var.push_max_age_seconds)
    # Connections a push's trace keeps in full (outcome, status, timing); then counts.
    PUSH_TRACE_MAX_CONNECTIONS = tostring(var.trace_max_connections)
  }
}

# Lambda stops a chain of ~16 invocations of functions invoking each other (Terminate by
# default): a long push hands on more often than that. Its own guard bounds the chain
# (push_max_hand_ons, push_max_age_seconds) and fails loudly instead of silently.
resource "aws_lambda_function_recursion_config" "push" {
  function_name  = module.functions["push"].function_name
  recursive_loop = "Allow"
}

# --- Functions ---------------------------------------------------------------------------

locals {
  # Every function runs the same zip; only the handler differs. The one path outside this
  # directory: the repository's own build, for the module used from its checkout.
  repository_lambda_zip = "${path.module}/../../../dist/wspush.zip"
  lambda_package        = var.lambda_package != null ? var.lambda_package : { path = local.repository_lambda_zip, s3_bucket = null, s3_key = null, s3_object_version = null }

  # What differs between the functions; the lambda_function module does the rest.
  function_definitions = {
    authorizer = {
      description = "Verifies the connection token on $connect."
      environment = tomap({
        TOKEN_SECRET_PARAMETER = module.token_secret.parameter_name
        ALLOWED_ORIGINS        = join(",", var.allowed_origins)
        TOKEN_AUDIENCE         = var.token_audience != null ? var.token_audience : ""
        TOKEN_ISSUER           = var.token_issuer != null ? var.token_issuer : ""
        TOKEN_HS256_ENABLED    = tostring(var.connect_hs256_enabled)
        # Small enough for the environment (validated on the variable): no SSM read, no
        # extra grant, nothing to fetch at cold start.
        OIDC_ISSUERS = length(var.connect_oidc_issuers) > 0 ? jsonencode(var.connect_oidc_issuers) : ""
      })
    }
    connect = {
      description = "Stores a new connection under its entity."
      environment = tomap({
        CONNECTION_TTL_SECONDS = tostring(local.connection_ttl_seconds)
        AUTH_DISABLED          = tostring(var.auth_disabled)
      })
    }
    disconnect = {
      description = "Deletes a closed connection's rows."
      # With presence topics, $disconnect announces member_left through @connections.
      environment = length(var.presence_topic_patterns) > 0 ? merge(tomap({
        CONNECTIONS_ENDPOINT = module.websocket_api.connections_url
      }), local.presence_environment) : tomap({})
    }
    message = {
      description = "Answers ping, subscribe, unsubscribe, resume, presence, publish, ack and unknown actions."
      environment = merge(tomap({
        CONNECTIONS_ENDPOINT             = module.websocket_api.connections_url
        CONNECTION_TTL_SECONDS           = tostring(local.connection_ttl_seconds)
        PUBLIC_TOPIC_PATTERNS            = join(",", var.public_topic_patterns)
        MAX_SUBSCRIPTIONS_PER_CONNECTION = tostring(var.max_subscriptions_per_connection)
        RESUME_MAX_MESSAGES              = tostring(var.resume_max_messages)
        CONNECTION_BUDGET_PER_SECOND     = tostring(var.connection_budget_per_second)
        CONNECTION_BUDGET_BURST          = tostring(var.connection_budget_burst)
        # The publish action: see local.client_publish_access.
        PUSH_FUNCTION_NAME             = local.push_function_name
        HISTORY_RETENTION_SECONDS      = tostring(var.history_retention_hours * 3600)
        PUBLIC_PUBLISH_PATTERNS        = join(",", var.public_publish_patterns)
        CLIENT_PUBLISH_RATE_PER_SECOND = tostring(var.client_publish_rate_per_second)
        CLIENT_PUBLISH_BURST           = tostring(var.client_publish_burst)
        # A larger audience goes through the push function, sharded like any push.
        CLIENT_PUBLISH_INLINE_TARGETS = tostring(min(local.client_publish_inline_targets, var.push_shard_size))
        CLIENT_PUBLISH_HOOK_ARN       = var.client_publish_hook_arn != null ? var.client_publish_hook_arn : ""
        CLIENT_PUBLISH_EVENT_PATTERNS = join(",", var.client_publish_event_patterns)
        CLIENT_PUBLISH_EVENT_BUS      = length(var.client_publish_event_patterns) > 0 ? module.push_schedule.event_bus_name : ""
      }), local.presence_environment)
    }
    publish = {
      description = "POST /publish: validates push requests and hands them to the push function."
      environment = tomap({
        PUSH_FUNCTION_NAME        = local.push_function_name
        PUBLISH_SYNC_MAX_TARGETS  = tostring(var.publish_sync_max_targets)
        PUBLISH_SYNC_WAIT_SECONDS = tostring(local.publish_sync_wait_seconds)
      })
    }
    push = {
      description = "Fans a message out to an entity, a topic, a connection or everyone."
      environment = merge(tomap({
        CONNECTIONS_ENDPOINT       = module.websocket_api.connections_url
        PUSH_CONCURRENCY           = tostring(var.push_concurrency)
        SCHEDULED_MESSAGE          = jsonencode(var.scheduled_message)
        HISTORY_RETENTION_SECONDS  = tostring(var.history_retention_hours * 3600)
        PUSH_EVENT_BUS             = module.push_schedule.event_bus_name
        UNDELIVERED_EVENTS_ENABLED = tostring(var.undelivered_events_enabled)
        ACK_TIMEOUT_SECONDS        = tostring(var.ack_timeout_seconds)
        ACK_TIMEOUT_QUEUE_URL      = module.receipts.queue_url
      }), local.push_sharding_environment, local.presence_environment)
    }
    receipts = {
      description = "Publishes wspush.push.unacknowledged for pushes nobody acknowledged in time."
      environment = tomap({
        PUSH_EVENT_BUS                = module.push_schedule.event_bus_name
        ACK_TIMEOUT_DLQ_URL           = module.receipts.dead_letter_queue_url
        ACK_TIMEOUT_MAX_RECEIVE_COUNT = tostring(module.receipts.max_receive_count)
      })
    }
  }
}

module "functions" {
  source   = "../lambda_function"
  for_each = local.function_definitions

  function_name      = "${local.name}-${each.key}"
  description        = each.value.description
  handler            = "wspush.handlers.${each.key}.handler"
  package            = local.lambda_package
  policy_json        = data.aws_iam_policy_document.function[each.key].json
  memory_size        = local.function_settings[each.key].memory_size
  timeout            = local.function_settings[each.key].timeout
  log_retention_days = var.log_retention_days
  environment        = merge(local.common_environment, each.value.environment)
  # Only push is invoked asynchronously (EventBridge). A push is not idempotent (a retry
  # after a partial fan-out posts twice) and an invalid request fails every time, so by
  # default a failure is not retried: its invocation record goes to the dead-letter queue,
  # where `wspush dlq` shows why and redrives it once the cause is fixed.
  async_invocation            = each.key == "push"
  on_failure_destination_arn  = each.key == "push" ? module.push_schedule.dead_letter_queue_destination_arn : null
  async_retry_attempts        = var.push_retry_attempts
  async_max_event_age_seconds = var.push_max_event_age_seconds
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
    "publish"     = "message"
    "ack"         = "message"
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
  # The message function returns its reply frame as the body: one round trip less per
  # reply than a post to @connections.
  two_way_routes = ["$default", "ping", "subscribe", "unsubscribe", "resume", "presence", "publish", "ack"]
  connect_authorizer = var.auth_disabled ? null : {
    function_name = module.functions["authorizer"].function_name
    invoke_arn    = module.functions["authorizer"].invoke_arn
  }
  authorizer_identity_sources = var.require_query_token ? ["route.request.querystring.token"] : []
  throttling_burst_limit      = var.throttling_burst_limit
  throttling_rate_limit       = var.throttling_rate_limit
  log_retention_days          = var.log_retention_days
  account_cloudwatch_role_arn = var.manage_api_gateway_account ? module.api_gateway_account[0].cloudwatch_role_arn : null
}

# The account's API Gateway CloudWatch role, which the stage's access logging needs: one
# setting per account and region, so only with manage_api_gateway_account (otherwise
# `make account-logging` sets it once, and `make deploy` checks it is set).
module "api_gateway_account" {
  source = "../api_gateway_account"
  count  = var.manage_api_gateway_account ? 1 : 0

  name = local.name
}

# The role and the setting were the WebSocket API module's before they had their own.
moved {
  from = module.websocket_api.aws_iam_role.apigateway_logging[0]
  to   = module.api_gateway_account[0].aws_iam_role.this
}

moved {
  from = module.websocket_api.aws_iam_role_policy_attachment.apigateway_logging[0]
  to   = module.api_gateway_account[0].aws_iam_role_policy_attachment.this
}

moved {
  from = module.websocket_api.aws_api_gateway_account.this[0]
  to   = module.api_gateway_account[0].aws_api_gateway_account.this
}

module "push_schedule" {
  source = "../push_schedule"

  name                = local.name
  push_function_name  = module.functions["push"].function_name
  push_function_arn   = module.functions["push"].function_arn
  schedule_expression = var.schedule_expression
  schedule_enabled    = var.schedule_enabled
  scheduled_push      = merge(var.scheduled_audience, { type = "scheduled", payload = var.scheduled_message })
  kms_key_arn         = local.kms_key_arn
}

# --- Receipts: the ack-timeout queue and the function that reads it ----------------------

module "receipts" {
  source = "../receipts"

  name                     = local.name
  function_name            = module.functions["receipts"].function_name
  function_timeout_seconds = local.function_settings["receipts"].timeout
  kms_key_arn              = local.kms_key_arn
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
  statement {
    sid       = "ReadPushTraces"
    actions   = ["execute-api:Invoke"]
    resources = [module.publish_api.trace_route_arn]
  }
}

# --- Operations --------------------------------------------------------------------------

module "monitoring" {
  source = "../monitoring"
  count  = var.monitoring_enabled ? 1 : 0

  name                          = local.name
  stage_name                    = var.stage_name
  metrics_namespace             = local.common_environment.POWERTOOLS_METRICS_NAMESPACE
  function_names                = { for role, function in module.functions : role => function.function_name }
  push_log_group_name           = module.functions["push"].log_group_name
  authorizer_log_group_name     = module.functions["authorizer"].log_group_name
  api_id                        = module.websocket_api.api_id
  table_name                    = module.connections_table.table_name
  dead_letter_queue_names       = [module.push_schedule.dead_letter_queue_name, module.push_schedule.undelivered_queue_name, module.receipts.dead_letter_queue_name]
  gone_rate_threshold           = var.gone_rate_alarm_threshold
  failed_rate_threshold         = var.failed_rate_alarm_threshold
  unacknowledged_rate_threshold = var.unacknowledged_rate_alarm_threshold
  identity_provider_alarm       = length(var.connect_oidc_issuers) > 0
  alarm_email                   = var.alarm_email
  kms_key_arn                   = local.kms_key_arn
}
