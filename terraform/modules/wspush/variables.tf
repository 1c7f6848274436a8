variable "name" {
  type        = string
  description = "Prefix of every resource name; the stage name is appended."
  default     = "wspush"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 characters: lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "stage_name" {
  type        = string
  description = "API Gateway stage name; the last path segment of the WebSocket URL."
  default     = "prod"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.stage_name))
    error_message = "stage_name must be 1-64 characters of letters, digits, hyphens and underscores."
  }

  # The longest name derived from both is a function's IAM role,
  # <name>-<stage>-authorizer-<region> (IAM allows 64 characters; regions have up to 14).
  validation {
    condition     = length("${var.name}-${var.stage_name}") <= 38
    error_message = "name and stage_name together (\"${var.name}-${var.stage_name}\", ${length("${var.name}-${var.stage_name}")} characters) must be at most 38 characters: they prefix IAM role names such as \"${var.name}-${var.stage_name}-authorizer-<region>\", which IAM limits to 64."
  }
}

variable "throttling_burst_limit" {
  type        = number
  description = "Stage burst limit. Must be set: an unset limit can mean 0 and every call gets 429."
  default     = 500
  nullable    = false

  validation {
    condition     = var.throttling_burst_limit >= 1
    error_message = "throttling_burst_limit must be at least 1."
  }
}

variable "throttling_rate_limit" {
  type        = number
  description = "Stage steady-state limit in requests per second."
  default     = 1000
  nullable    = false

  validation {
    condition     = var.throttling_rate_limit >= 1
    error_message = "throttling_rate_limit must be at least 1."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of every log group, in days (a value CloudWatch Logs accepts)."
  default     = 30
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "schedule_expression" {
  type        = string
  description = "When scheduled pushes go out: rate(...) or cron(...)."
  default     = "rate(1 minute)"
  nullable    = false

  validation {
    condition     = can(regex("^(rate\\(\\s*[1-9][0-9]*\\s+(minute|minutes|hour|hours|day|days)\\s*\\)|cron\\(\\s*\\S+(\\s+\\S+){5}\\s*\\))$", var.schedule_expression))
    error_message = "schedule_expression must be rate(N unit) with unit minute(s), hour(s) or day(s), or cron(<6 fields>), e.g. rate(1 minute) or cron(0 12 * * ? *)."
  }
}

variable "schedule_enabled" {
  type        = bool
  description = "Whether scheduled pushes run (the rule exists either way, DISABLED when off). Off by default: every run is one API Gateway message per targeted connection, so the default broadcast every minute would bill about 4.3 billion messages a month at 100,000 connections. Turn it on with a schedule_expression and scheduled_audience you have priced (docs/operations.md, Cost model); the local stack turns it on."
  default     = false
  nullable    = false
}

variable "scheduled_message" {
  type        = any
  description = "Payload of every scheduled push (any JSON value)."
  default     = { text = "scheduled push from wspush" }
  nullable    = false

  # Lambda allows 4 KB for all of a function's environment variables, measured as their
  # JSON; SCHEDULED_MESSAGE is JSON inside that JSON, and the push function's other
  # variables take under 1 KB. (Bytes: base64's length is 4/3 of them.)
  validation {
    condition     = ceil(length(base64encode(jsonencode(jsonencode(var.scheduled_message)))) * 3 / 4) <= 3072
    error_message = "scheduled_message takes ${ceil(length(base64encode(jsonencode(jsonencode(var.scheduled_message)))) * 3 / 4)} bytes in the push function's environment; at most 3072 fit Lambda's 4 KB for all of a function's environment variables."
  }
}

variable "scheduled_audience" {
  type        = map(any)
  description = "Who receives scheduled pushes: exactly one of { broadcast = true }, { entityId = \"...\" }, { topic = \"...\" }."
  default     = { broadcast = true }
  nullable    = false

  validation {
    condition     = length(var.scheduled_audience) == 1 && alltrue([for key in keys(var.scheduled_audience) : contains(["broadcast", "entityId", "topic", "connectionId"], key)])
    error_message = "scheduled_audience must have exactly one key: broadcast, entityId, topic or connectionId."
  }
}

variable "auth_disabled" {
  type        = bool
  description = "Demo mode: no authorizer on $connect and clients name their entity with ?entityId=. Never in production."
  default     = false
  nullable    = false
}

variable "allowed_origins" {
  type        = list(string)
  description = "Browser origins allowed to connect (exact match, e.g. https://app.example.com). EMPTY ALLOWS EVERY ORIGIN: any web page a user visits may then open a connection with that user's token. Set it in production."
  default     = []
  nullable    = false

  # ALLOWED_ORIGINS, TOKEN_AUDIENCE and TOKEN_ISSUER share the authorizer's 4 KB of
  # environment variables (its others take under 1 KB).
  validation {
    condition     = ceil(length(base64encode(jsonencode([join(",", var.allowed_origins), var.token_audience == null ? "" : var.token_audience, var.token_issuer == null ? "" : var.token_issuer]))) * 3 / 4) <= 3072
    error_message = "allowed_origins, token_audience and token_issuer take ${ceil(length(base64encode(jsonencode([join(",", var.allowed_origins), var.token_audience == null ? "" : var.token_audience, var.token_issuer == null ? "" : var.token_issuer]))) * 3 / 4)} bytes in the authorizer's environment together; at most 3072 fit Lambda's 4 KB for all of a function's environment variables."
  }
}

variable "require_query_token" {
  type        = bool
  description = "Make API Gateway refuse (401) connects without ?token= before the authorizer runs. Off, browsers may send the token as a Sec-WebSocket-Protocol entry instead."
  default     = false
  nullable    = false
}

variable "token_secret" {
  type        = string
  description = "Token-signing secret to store (one key per line, the first signs); null generates a random one at apply. Write-only: never kept in plan or state."
  default     = null
  sensitive   = true
  ephemeral   = true

  validation {
    # RFC 7518 3.2: an HS256 key is at least as long as the hash output (256 bits).
    condition     = var.token_secret == null || alltrue([for key in split("\n", coalesce(var.token_secret, "-")) : length(trimspace(key)) >= 32 if trimspace(key) != ""])
    error_message = "Each line (key) of token_secret must be at least 32 characters."
  }
}

variable "token_audience" {
  type        = string
  description = "When set, tokens must carry this `aud` claim (a string, or a list containing it); when null, tokens carrying any `aud` are refused."
  default     = null
}

variable "token_issuer" {
  type        = string
  description = "When set, tokens must carry this `iss` claim; when null, `iss` is not checked."
  default     = null
}

variable "connect_hs256_enabled" {
  type        = bool
  description = "Whether $connect accepts wspush's own HS256 tokens (signed with token_secret). Turn it off to accept only the tokens of connect_oidc_issuers."
  default     = true
  nullable    = false

  validation {
    condition     = var.connect_hs256_enabled || length(var.connect_oidc_issuers) > 0
    error_message = "connect_hs256_enabled = false needs at least one issuer in connect_oidc_issuers: otherwise no token could ever connect."
  }
}

variable "connect_oidc_issuers" {
  type = list(object({
    issuer       = string
    audiences    = optional(list(string), [])
    client_ids   = optional(list(string), [])
    jwks_uri     = optional(string)
    entity_claim = optional(string, "sub")
    topics_claim = optional(string)
    group_topics = optional(object({
      claim    = string
      patterns = map(list(string))
    }))
    token_use  = optional(list(string))
    algorithms = optional(list(string), ["RS256"])
  }))
  description = "Identity providers (Cognito user pools, Auth0, Okta, Entra ID, Keycloak, any OpenID Connect issuer) whose tokens $connect accepts, verified against each one's JWKS (docs/identity.md). Per issuer: issuer (the exact `iss`); audiences (an ID token's `aud`) and/or client_ids (a Cognito access token's `client_id`); jwks_uri (default: a Cognito pool's documented URL, else the discovery document's); entity_claim (the claim naming the entity, default `sub`); topics_claim (a claim holding topic patterns) and/or group_topics = { claim = \"cognito:groups\" (or \"scope\", \"groups\"), patterns = { admins = [\"*\"], staff = [\"orders.*\"] } }; token_use (Cognito: [\"id\"], [\"access\"] or both; null does not check it); algorithms (RS256 and/or ES256, default [\"RS256\"])."
  default     = []
  nullable    = false

  validation {
    condition = alltrue([for entry in var.connect_oidc_issuers : alltrue([
      for url in compact([entry.issuer, entry.jwks_uri]) :
      can(regex("^https://[^\\s/]+[^\\s]*$", url)) || can(regex("^http://(127\\.0\\.0\\.1|localhost)(:[0-9]+)?(/[^\\s]*)?$", url))
    ])])
    error_message = "Each connect_oidc_issuers issuer and jwks_uri must be an https:// URL (plain http:// only to 127.0.0.1 or localhost, for a local issuer)."
  }

  validation {
    condition     = length(distinct([for entry in var.connect_oidc_issuers : entry.issuer])) == length(var.connect_oidc_issuers)
    error_message = "connect_oidc_issuers names an issuer twice."
  }

  validation {
    condition     = alltrue([for entry in var.connect_oidc_issuers : length(entry.audiences) + length(entry.client_ids) > 0])
    error_message = "Each connect_oidc_issuers entry needs audiences (checked against an ID token's aud) or client_ids (a Cognito access token's client_id)."
  }

  validation {
    condition     = alltrue([for entry in var.connect_oidc_issuers : entry.token_use == null || (length(coalesce(entry.token_use, [])) > 0 && length(setsubtract(coalesce(entry.token_use, []), ["id", "access"])) == 0)])
    error_message = "token_use must be null (not checked) or a non-empty list of \"id\" and/or \"access\"."
  }

  validation {
    condition     = alltrue([for entry in var.connect_oidc_issuers : length(entry.algorithms) > 0 && length(setsubtract(entry.algorithms, ["RS256", "ES256"])) == 0])
    error_message = "algorithms must be a non-empty list of \"RS256\" and/or \"ES256\"."
  }

  validation {
    condition = alltrue([for entry in var.connect_oidc_issuers : entry.group_topics == null || alltrue([
      for pattern in flatten(values(try(entry.group_topics.patterns, {}))) : can(regex("^(\\*|[A-Za-z0-9_.:/-]{1,128}\\*?)$", pattern))
    ])])
    error_message = "Each group_topics pattern is a topic name (1-128 of A-Z a-z 0-9 _ . : / -), optionally followed by *, or * alone."
  }

  validation {
    condition     = alltrue([for entry in var.connect_oidc_issuers : entry.entity_claim != "" && try(entry.topics_claim != "", true) && try(entry.group_topics.claim != "", true)])
    error_message = "entity_claim, topics_claim and group_topics.claim must not be empty strings."
  }

  validation {
    condition     = var.token_issuer == null || !contains([for entry in var.connect_oidc_issuers : entry.issuer], coalesce(var.token_issuer, "-"))
    error_message = "token_issuer (the iss of wspush's own tokens) must not be one of connect_oidc_issuers: a token naming a trusted issuer is verified as that issuer's."
  }

  validation {
    # The list reaches the authorizer as one environment variable (OIDC_ISSUERS), and Lambda
    # allows 4 KB for all of a function's variables together.
    condition     = length(jsonencode(var.connect_oidc_issuers)) <= 2048
    error_message = "connect_oidc_issuers encodes to more than 2048 characters of JSON (Lambda's 4 KB limit covers all of the authorizer's environment): trust fewer issuers or grant topics by fewer, broader patterns."
  }
}

variable "public_topic_patterns" {
  type        = list(string)
  description = "Topic patterns every authenticated connection may subscribe to, besides its token's `topics` claim: exact names or prefixes ending in `*` (e.g. [\"news\", \"public.*\"])."
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for pattern in var.public_topic_patterns : can(regex("^(\\*|[A-Za-z0-9_.:/-]{1,128}\\*?)$", pattern))])
    error_message = "Each public topic pattern is a topic name (1-128 of A-Z a-z 0-9 _ . : / -), optionally followed by *, or * alone."
  }

  # PUBLIC_TOPIC_PATTERNS in the message function's 4 KB of environment variables (its
  # others take under 1 KB).
  validation {
    condition     = ceil(length(base64encode(jsonencode(join(",", var.public_topic_patterns)))) * 3 / 4) <= 3072
    error_message = "public_topic_patterns take ${ceil(length(base64encode(jsonencode(join(",", var.public_topic_patterns)))) * 3 / 4)} bytes in the message function's environment; at most 3072 fit Lambda's 4 KB for all of a function's environment variables."
  }
}

variable "presence_topic_patterns" {
  type        = list(string)
  description = "Topic patterns (a topic name, a prefix followed by *, or * alone) whose subscribers hear member_joined when an entity's first connection subscribes and member_left when its last subscription goes. Needs lifecycle_events_enabled (the counters behind it). Default: none."
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for pattern in var.presence_topic_patterns : can(regex("^(\\*|[A-Za-z0-9_.:/-]{1,128}\\*?)$", pattern))])
    error_message = "Each presence topic pattern is a topic name (1-128 of A-Z a-z 0-9 _ . : / -), optionally followed by *, or * alone."
  }

  validation {
    condition     = length(var.presence_topic_patterns) == 0 || var.lifecycle_events_enabled
    error_message = "presence_topic_patterns need lifecycle_events_enabled = true: members are counted by the same counters as topic occupancy."
  }

  validation {
    condition     = length(join(",", var.presence_topic_patterns)) <= 1024
    error_message = "presence_topic_patterns take at most 1024 characters (joined by commas) in the functions' environment."
  }
}

variable "presence_max_members" {
  type        = number
  description = "Entities one presence topic holds at most; a subscribe that would add one more is answered presence_full."
  default     = 100
  nullable    = false

  validation {
    condition     = var.presence_max_members >= 1 && var.presence_max_members <= 1000 && floor(var.presence_max_members) == var.presence_max_members
    error_message = "presence_max_members must be a whole number from 1 to 1000."
  }
}

variable "max_subscriptions_per_connection" {
  type        = number
  description = "Topics one connection may subscribe to at once; beyond it, subscribe answers too_many_subscriptions."
  default     = 100
  nullable    = false

  validation {
    # $disconnect deletes a connection's rows in batches of 25 well within its timeout.
    condition     = var.max_subscriptions_per_connection >= 1 && var.max_subscriptions_per_connection <= 1000 && floor(var.max_subscriptions_per_connection) == var.max_subscriptions_per_connection
    error_message = "max_subscriptions_per_connection must be a whole number from 1 to 1000."
  }
}

variable "connection_budget_per_second" {
  type        = number
  description = "Units per second one connection's budget refills: a subscribe, presence or resume request costs 1 unit, and every 32 KB a resume replays 1 more. A request that finds the budget spent is answered rate_limited with retryAfter (seconds)."
  default     = 10
  nullable    = false

  validation {
    condition     = var.connection_budget_per_second >= 1 && var.connection_budget_per_second <= 1000 && floor(var.connection_budget_per_second) == var.connection_budget_per_second
    error_message = "connection_budget_per_second must be a whole number from 1 to 1000."
  }
}

variable "connection_budget_burst" {
  type        = number
  description = "Units one connection's budget holds when full: the burst of subscribe, presence and resume requests (and 32 KB units of replay) it may send at once."
  default     = 50
  nullable    = false

  validation {
    # One request plus one replayed push of API Gateway's largest (128 KB: 4 units).
    condition     = var.connection_budget_burst >= 5 && var.connection_budget_burst <= 10000 && floor(var.connection_budget_burst) == var.connection_budget_burst
    error_message = "connection_budget_burst must be a whole number from 5 (a resume and one 128 KB push) to 10000."
  }
}

variable "token_secret_version" {
  type        = number
  description = "Bump to write a new token secret (generated, or var.token_secret) to SSM."
  default     = 1
  nullable    = false
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the connections table from deletion."
  default     = true
  nullable    = false
}

variable "create_kms_key" {
  type        = bool
  description = "Create a customer-managed KMS key (with rotation and the key policy wspush needs) for the table, the token secret, both queues and the alarm topic."
  default     = false
  nullable    = false
}

variable "kms_key_arn" {
  type        = string
  description = "Your own customer-managed KMS key for the table, the token secret, both queues and the alarm topic; its key policy must contain the kms_key_policy_json output's service statements (docs/operations.md). null (and create_kms_key off) uses encryption AWS manages: the tables' AWS-owned key (free), aws/ssm, SQS-managed SSE."
  default     = null

  validation {
    condition     = !(var.create_kms_key && var.kms_key_arn != null)
    error_message = "Set either create_kms_key = true or kms_key_arn, not both."
  }

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", coalesce(var.kms_key_arn, "-")))
    error_message = "kms_key_arn must be a key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias: IAM policies name keys by key ARN."
  }
}

variable "function_settings" {
  type = map(object({
    memory_size = optional(number)
    timeout     = optional(number)
  }))
  description = "Memory (MB) and timeout (s) overrides per function: authorizer, connect, disconnect, message, publish, push."
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for key in keys(var.function_settings) : contains(["authorizer", "connect", "disconnect", "message", "publish", "push"], key)])
    error_message = "function_settings keys must be among authorizer, connect, disconnect, message, publish, push."
  }
}

variable "push_concurrency" {
  type        = number
  description = "Concurrent @connections posts per push invocation."
  default     = 32
  nullable    = false

  validation {
    condition     = var.push_concurrency >= 1 && var.push_concurrency <= 256
    error_message = "push_concurrency must be between 1 and 256."
  }
}

variable "push_shard_size" {
  type        = number
  description = "Most connections one push invocation posts to before it hands the rest of its shard on. An audience up to this size is pushed in one invocation."
  default     = 5000
  nullable    = false

  validation {
    condition     = var.push_shard_size >= 10 && var.push_shard_size <= 100000
    error_message = "push_shard_size must be between 10 and 100000."
  }
}

variable "push_shard_parallelism" {
  type        = number
  description = "Shards of one push that run at once (worker invocations); also the broadcast's parallel Scan segments."
  default     = 10
  nullable    = false

  validation {
    condition     = var.push_shard_parallelism >= 1 && var.push_shard_parallelism <= 100
    error_message = "push_shard_parallelism must be between 1 and 100."
  }
}

variable "push_rate_limit" {
  type        = number
  description = "Ceiling on @connections posts per second for one push, across all its shards. API Gateway's account quota (10,000 requests/s by default) is shared with every other call."
  default     = 5000
  nullable    = false

  validation {
    condition     = var.push_rate_limit >= 1 && var.push_rate_limit <= 100000
    error_message = "push_rate_limit must be between 1 and 100000 posts per second."
  }
}

variable "push_max_hand_ons" {
  type        = number
  description = "Longest chain of hand-ons (fresh invocations of the push function) one push may run; a push that needs more is abandoned loudly (error log, PushAbandoned metric, its remainder dead-lettered). Lambda's recursion detection is off for the push function, so this is the guard. 100 hand-ons of a 15-minute function are over a day of pushing."
  default     = 100
  nullable    = false

  validation {
    condition     = var.push_max_hand_ons >= 1 && var.push_max_hand_ons <= 10000 && floor(var.push_max_hand_ons) == var.push_max_hand_ons
    error_message = "push_max_hand_ons must be a whole number between 1 and 10000."
  }
}

variable "push_max_age_seconds" {
  type        = number
  description = "Oldest (60-604800 s) a push may be when one of its hand-ons starts; an older push is abandoned loudly, like one over push_max_hand_ons. A notification hours late is rarely worth sending."
  default     = 21600
  nullable    = false

  validation {
    condition     = var.push_max_age_seconds >= 60 && var.push_max_age_seconds <= 604800
    error_message = "push_max_age_seconds must be between 60 and 604800 seconds (a week)."
  }
}

variable "manage_api_gateway_account" {
  type        = bool
  description = "Create the CloudWatch role API Gateway needs for the WebSocket stage's access logs and set it as the account's (one setting per account and region, reset when this deployment is destroyed). Off, the setting is made once per account and region by `make account-logging` (terraform/account/), and `make deploy` stops before creating anything while it is missing. Turn on in at most ONE deployment per account and region; see docs/operations.md."
  default     = false
  nullable    = false
}

variable "lambda_package" {
  type = object({
    path              = optional(string)
    s3_bucket         = optional(string)
    s3_key            = optional(string)
    s3_object_version = optional(string)
  })
  description = "The functions' code: the release's wspush-lambda-<version>.zip, as a local `path` (its hash becomes source_code_hash; relative paths are from the root module's directory, so prefer \"$${path.root}/...\"), or an S3 object (`s3_bucket`, `s3_key`, optional `s3_object_version`) in the deployment's region. null, inside the wspush repository only, uses its own build (dist/wspush.zip from `make build`); anywhere else it is required."
  default     = null

  validation {
    condition     = var.lambda_package == null || ((try(var.lambda_package.path, null) != null) != (try(var.lambda_package.s3_bucket, null) != null || try(var.lambda_package.s3_key, null) != null))
    error_message = "lambda_package needs exactly one of path (a local zip), or s3_bucket with s3_key."
  }

  validation {
    condition     = var.lambda_package == null || (try(var.lambda_package.s3_bucket, null) == null) == (try(var.lambda_package.s3_key, null) == null)
    error_message = "lambda_package's S3 object needs both s3_bucket and s3_key."
  }

  validation {
    condition     = try(var.lambda_package.path, local.repository_lambda_zip) == null || fileexists(coalesce(try(var.lambda_package.path, local.repository_lambda_zip), "-"))
    error_message = "No zip at ${coalesce(try(var.lambda_package.path, local.repository_lambda_zip), "-")}. Set lambda_package to the release's wspush-lambda-<version>.zip (docs/module.md); only inside the wspush repository may it be null, after `make build`."
  }
}

variable "xray_sdk_tracing" {
  type        = bool
  description = "Trace inside the functions with the X-Ray SDK (a subsegment per AWS call). Active tracing records every invocation either way; the SDK adds ~150 ms to each cold start."
  default     = false
  nullable    = false
}

variable "monitoring_enabled" {
  type        = bool
  description = "Create the alarms, their SNS topic, the dashboard and the saved log queries."
  default     = true
  nullable    = false
}

variable "alarm_email" {
  type        = string
  description = "Email address subscribed to the alarm topic (confirm the subscription mail); null for none."
  default     = null
}

variable "gone_rate_alarm_threshold" {
  type        = number
  description = "Alarm when more than this share (0-1) of targeted connections answer 410 within five minutes."
  default     = 0.5
  nullable    = false
}

variable "history_retention_hours" {
  type        = number
  description = "How long every push is kept for resume and `wspush history`, in hours (the history table's TTL)."
  default     = 24
  nullable    = false

  validation {
    condition     = var.history_retention_hours >= 1 && var.history_retention_hours <= 720 && floor(var.history_retention_hours) == var.history_retention_hours
    error_message = "history_retention_hours must be a whole number of hours from 1 to 720 (30 days)."
  }
}

variable "resume_max_messages" {
  type        = number
  description = "Most pushes one resume request replays; the reply's `more` lists channels to resume again."
  default     = 100
  nullable    = false

  validation {
    condition     = var.resume_max_messages >= 1 && var.resume_max_messages <= 250 && floor(var.resume_max_messages) == var.resume_max_messages
    error_message = "resume_max_messages must be a whole number from 1 to 250 (one post per replayed push, within the message function's timeout)."
  }
}

variable "lifecycle_events_enabled" {
  type        = bool
  description = "Publish wspush.connection.opened/closed and wspush.topic.occupied/vacated to the event bus (and count topic subscribers for them)."
  default     = true
  nullable    = false
}

variable "push_retry_attempts" {
  type        = number
  description = "Lambda's retries (0-2) of a push that failed when invoked asynchronously (schedule, bus events). 0: a failed push goes straight to the dead-letter queue; a retry after a partial fan-out would post twice, and an invalid request fails every time."
  default     = 0
  nullable    = false

  validation {
    condition     = contains([0, 1, 2], var.push_retry_attempts)
    error_message = "push_retry_attempts must be 0, 1 or 2 (Lambda's limits)."
  }
}

variable "push_max_event_age_seconds" {
  type        = number
  description = "How long (60-21600 s) an asynchronous push may wait in Lambda's queue (e.g. while throttled) before it goes to the dead-letter queue unrun."
  default     = 3600
  nullable    = false

  validation {
    condition     = var.push_max_event_age_seconds >= 60 && var.push_max_event_age_seconds <= 21600
    error_message = "push_max_event_age_seconds must be between 60 and 21600 seconds (Lambda's limits)."
  }
}

variable "custom_routes" {
  type = map(object({
    function_name = string
    invoke_arn    = string
  }))
  description = "Extra WebSocket routes: route key (the frame's action) to the Lambda function that handles it (its name, for the invoke permission, and its invoke ARN). Each gets its own Lambda proxy integration and a permission scoped to that route."
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for key in keys(var.custom_routes) : can(regex("^[A-Za-z][A-Za-z0-9_.-]{0,63}$", key))])
    error_message = "custom_routes keys must be 1-64 letters, digits, '_', '.' or '-', starting with a letter (the $-routes belong to wspush)."
  }

  validation {
    condition     = length(setintersection(keys(var.custom_routes), ["ping", "subscribe", "unsubscribe", "resume", "presence", "publish"])) == 0
    error_message = "custom_routes cannot replace wspush's own routes: ping, subscribe, unsubscribe, resume, presence, publish."
  }
}

variable "publish_jwt_issuer" {
  type        = string
  description = "Issuer URL (https://) of a JWT authorizer for POST /publish, for callers outside AWS; null keeps IAM (SigV4) authorization."
  default     = null

  validation {
    condition     = var.publish_jwt_issuer == null || can(regex("^https://[^\\s]+$", var.publish_jwt_issuer))
    error_message = "publish_jwt_issuer must be an https:// URL (API Gateway reads its OpenID configuration)."
  }
}

variable "publish_jwt_audience" {
  type        = list(string)
  description = "Audiences (aud or client_id) the POST /publish JWT authorizer accepts; required with publish_jwt_issuer."
  default     = []
  nullable    = false

  validation {
    condition     = var.publish_jwt_issuer == null || length(var.publish_jwt_audience) > 0
    error_message = "publish_jwt_audience needs at least one audience when publish_jwt_issuer is set."
  }
}

variable "publish_sync_max_targets" {
  type        = number
  description = "POST /publish waits for the delivery report when the audience has at most this many connections; larger audiences and broadcasts answer 202 at once. 0 always answers 202."
  default     = 100
  nullable    = false

  validation {
    condition     = var.publish_sync_max_targets >= 0 && var.publish_sync_max_targets <= 1000
    error_message = "publish_sync_max_targets must be between 0 and 1000."
  }
}

# --- Publishing from a client (the publish action) --------------------------------------

variable "public_publish_patterns" {
  type        = list(string)
  description = "Topic patterns every authenticated connection may publish on, besides its token's `publish` claim: exact names or prefixes ending in `*`. Reading and publishing are separate grants: `topics` and `public_topic_patterns` never grant publishing."
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for pattern in var.public_publish_patterns : can(regex("^(\\*|[A-Za-z0-9_.:/-]{1,128}\\*?)$", pattern))])
    error_message = "Each public publish pattern is a topic name (1-128 of A-Z a-z 0-9 _ . : / -), optionally followed by *, or * alone."
  }
}

variable "client_publish_rate_per_second" {
  type        = number
  description = "Messages per second one connection may publish (its own token bucket, apart from connection_budget_*); beyond it, publish answers rate_limited with retryAfter (seconds)."
  default     = 10
  nullable    = false

  validation {
    condition     = var.client_publish_rate_per_second >= 1 && var.client_publish_rate_per_second <= 1000 && floor(var.client_publish_rate_per_second) == var.client_publish_rate_per_second
    error_message = "client_publish_rate_per_second must be a whole number from 1 to 1000."
  }
}

variable "client_publish_burst" {
  type        = number
  description = "Messages one connection may publish at once when its publish bucket is full."
  default     = 20
  nullable    = false

  validation {
    condition     = var.client_publish_burst >= 1 && var.client_publish_burst <= 10000 && floor(var.client_publish_burst) == var.client_publish_burst
    error_message = "client_publish_burst must be a whole number from 1 to 10000."
  }
}

variable "client_publish_hook_arn" {
  type        = string
  description = "ARN of a Lambda function called synchronously before every client publish with {topic, type, data, id, from, connectionId}; it answers {\"action\": \"allow\"}, {\"action\": \"reject\", \"code\", \"message\"} or {\"action\": \"replace\", \"data\"}. Null: no hook."
  default     = null

  validation {
    condition     = var.client_publish_hook_arn == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?$", var.client_publish_hook_arn))
    error_message = "client_publish_hook_arn must be a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>[:<alias or version>])."
  }
}

variable "client_publish_event_patterns" {
  type        = list(string)
  description = "Topic patterns whose client publishes are also put on the stack's event bus as wspush.client.published events (topic, id, seq, epoch, from, connectionId, type, data), e.g. to persist or moderate chat messages. Empty: none."
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for pattern in var.client_publish_event_patterns : can(regex("^(\\*|[A-Za-z0-9_.:/-]{1,128}\\*?)$", pattern))])
    error_message = "Each client publish event pattern is a topic name (1-128 of A-Z a-z 0-9 _ . : / -), optionally followed by *, or * alone."
  }

  # The message function's 4 KB of environment variables hold all three pattern lists.
  validation {
    condition     = length(join(",", concat(var.public_topic_patterns, var.public_publish_patterns, var.client_publish_event_patterns))) <= 3072
    error_message = "public_topic_patterns, public_publish_patterns and client_publish_event_patterns take ${length(join(",", concat(var.public_topic_patterns, var.public_publish_patterns, var.client_publish_event_patterns)))} characters together in the message function's environment; at most 3072 fit Lambda's 4 KB."
  }
}
