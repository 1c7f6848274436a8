# The root passes every setting to module.wspush. null means "the module's default":
# defaults and validation live in modules/wspush/variables.tf, once.

variable "aws_region" {
  type        = string
  description = "AWS region to deploy into."
  default     = "us-east-1"
}

variable "name" {
  type        = string
  description = "Prefix of every resource name; the stage name is appended."
  default     = null
}

variable "stage_name" {
  type        = string
  description = "API Gateway stage name; the last path segment of the WebSocket URL."
  default     = null
}

variable "throttling_burst_limit" {
  type        = number
  description = "Stage burst limit. Must be set: an unset limit can mean 0 and every call gets 429."
  default     = null
}

variable "throttling_rate_limit" {
  type        = number
  description = "Stage steady-state limit in requests per second."
  default     = null
}

variable "log_retention_days" {
  type        = number
  description = "Retention of every log group, in days (a value CloudWatch Logs accepts)."
  default     = null
}

variable "log_level" {
  type        = string
  description = "Level of the functions' log lines: INFO (one line per push) or WARNING (problems and metrics only); DEBUG and ERROR also accepted."
  default     = null
}

variable "schedule_expression" {
  type        = string
  description = "When scheduled pushes go out: rate(...) or cron(...)."
  default     = null
}

variable "schedule_enabled" {
  type        = bool
  description = "Whether scheduled pushes run; off by default (each run is a billed message per targeted connection). Default and reasoning in the module."
  default     = null
}

variable "scheduled_message" {
  type        = any
  description = "Payload of every scheduled push (any JSON value)."
  default     = null
}

variable "scheduled_audience" {
  type        = map(any)
  description = "Who receives scheduled pushes: exactly one of { broadcast = true }, { entityId = \"...\" }, { topic = \"...\" }."
  default     = null
}

variable "auth_disabled" {
  type        = bool
  description = "Demo mode: no authorizer on $connect and clients name their entity with ?entityId=. Never in production."
  default     = null
}

variable "allowed_origins" {
  type        = list(string)
  description = "Browser origins allowed to connect (exact match, e.g. https://app.example.com). EMPTY ALLOWS EVERY ORIGIN: any web page a user visits may then open a connection with that user's token. Set it in production."
  default     = null
}

variable "require_query_token" {
  type        = bool
  description = "Make API Gateway refuse (401) connects without ?token= before the authorizer runs. Off, browsers may send the token as a Sec-WebSocket-Protocol entry instead."
  default     = null
}

variable "token_secret" {
  type        = string
  description = "Token-signing secret to store; null generates a random one at apply. Write-only: never kept in plan or state."
  default     = null
  sensitive   = true
  ephemeral   = true
}

variable "token_audience" {
  type        = string
  description = "When set, tokens must carry this `aud` claim; when null, tokens carrying any `aud` are refused."
  default     = null
}

variable "token_issuer" {
  type        = string
  description = "When set, tokens must carry this `iss` claim; when null, `iss` is not checked."
  default     = null
}

variable "connect_hs256_enabled" {
  type        = bool
  description = "Whether $connect accepts wspush's own HS256 tokens beside those of connect_oidc_issuers."
  default     = null
}

variable "connect_oidc_issuers" {
  type = list(object({
    issuer       = string
    audiences    = optional(list(string))
    client_ids   = optional(list(string))
    jwks_uri     = optional(string)
    entity_claim = optional(string)
    topics_claim = optional(string)
    group_topics = optional(object({
      claim    = string
      patterns = map(list(string))
    }))
    token_use  = optional(list(string))
    algorithms = optional(list(string))
  }))
  description = "Identity providers (Cognito user pools, any OpenID Connect issuer) whose tokens $connect accepts; see the module's variable and docs/identity.md."
  default     = null
}

variable "public_topic_patterns" {
  type        = list(string)
  description = "Topic patterns every authenticated connection may subscribe to, besides its token's `topics` claim."
  default     = null
}

variable "presence_topic_patterns" {
  type        = list(string)
  description = "Topic patterns whose subscribers hear member_joined and member_left; see the module's variable."
  default     = null
}

variable "presence_max_members" {
  type        = number
  description = "Entities one presence topic holds at most; see the module's variable."
  default     = null
}

variable "max_subscriptions_per_connection" {
  type        = number
  description = "Topics one connection may subscribe to at once."
  default     = null
}

variable "connection_budget_per_second" {
  type        = number
  description = "Units per second one connection's budget refills (a subscribe, presence or resume request: 1; each 32 KB a resume replays: 1 more)."
  default     = null
}

variable "connection_budget_burst" {
  type        = number
  description = "Units one connection's budget holds when full."
  default     = null
}

variable "token_secret_version" {
  type        = number
  description = "Bump to write a new token secret (generated, or var.token_secret) to SSM."
  default     = null
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the connections table from deletion."
  default     = null
}

variable "create_kms_key" {
  type        = bool
  description = "Create a customer-managed KMS key (with rotation and the key policy wspush needs) for the table, the token secret, both queues and the alarm topic."
  default     = null
}

variable "kms_key_arn" {
  type        = string
  description = "Your own customer-managed KMS key for the table, the token secret, both queues and the alarm topic; its key policy must contain the kms_key_policy_json output's service statements. null uses encryption AWS manages (the tables' free AWS-owned key, aws/ssm, SQS-managed SSE)."
  default     = null
}

variable "function_settings" {
  type = map(object({
    memory_size = optional(number)
    timeout     = optional(number)
  }))
  description = "Memory (MB) and timeout (s) overrides per function: authorizer, connect, disconnect, message, push."
  default     = null
}

variable "push_concurrency" {
  type        = number
  description = "Concurrent @connections posts per push invocation."
  default     = null
}

variable "push_shard_size" {
  type        = number
  description = "Most connections one push invocation posts to before it hands the rest of its shard on."
  default     = null
}

variable "push_shard_parallelism" {
  type        = number
  description = "Shards of one push that run at once (worker invocations)."
  default     = null
}

variable "push_rate_limit" {
  type        = number
  description = "Ceiling on @connections posts per second for one push, across all its shards."
  default     = null
}

variable "push_max_hand_ons" {
  type        = number
  description = "Longest chain of hand-ons one push may run before it is abandoned loudly."
  default     = null
}

variable "push_max_age_seconds" {
  type        = number
  description = "Oldest a push may be when one of its hand-ons starts before it is abandoned loudly."
  default     = null
}

variable "manage_api_gateway_account" {
  type        = bool
  description = "Create the CloudWatch role API Gateway needs for access logs and set it as the account's (one setting per account and region, reset on destroy). Off (the module's default), `make account-logging` sets it once per account and region, and `make deploy` stops first while it is missing. Turn on in at most ONE deployment per account and region."
  default     = null
}

variable "push_retry_attempts" {
  type        = number
  description = "Lambda's retries (0-2) of a push that failed when invoked asynchronously; 0 sends it straight to the dead-letter queue."
  default     = null
}

variable "push_max_event_age_seconds" {
  type        = number
  description = "How long (60-21600 s) an asynchronous push may wait in Lambda's queue before it goes to the dead-letter queue unrun."
  default     = null
}

variable "lambda_package" {
  type        = map(string)
  description = "The functions' code (the module's lambda_package): a local zip path or an S3 object; null uses dist/wspush.zip from `make build`."
  default     = null
}

variable "xray_sdk_tracing" {
  type        = bool
  description = "Trace inside the functions with the X-Ray SDK (a subsegment per AWS call). Active tracing records every invocation either way; the SDK adds ~150 ms to each cold start."
  default     = null
}

variable "monitoring_enabled" {
  type        = bool
  description = "Create the alarms, their SNS topic, the dashboard and the saved log queries."
  default     = null
}

variable "alarm_email" {
  type        = string
  description = "Email address subscribed to the alarm topic (confirm the subscription mail); null for none."
  default     = null
}

variable "gone_rate_alarm_threshold" {
  type        = number
  description = "Alarm when more than this share (0-1) of targeted connections answer 410 within five minutes."
  default     = null
}

variable "custom_routes" {
  type = map(object({
    function_name = string
    invoke_arn    = string
  }))
  description = "Extra WebSocket routes: route key to the Lambda function (name and invoke ARN) that handles it."
  default     = null
}

variable "emulator_endpoint" {
  type        = string
  description = "Point every AWS service at this emulator URL (the local stack sets it). Leave null for AWS."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for every resource."
  default     = {}
}

variable "history_retention_hours" {
  type        = number
  description = "How long every push is kept for resume and `wspush history`, in hours (the history table's TTL)."
  default     = null
}

variable "resume_max_messages" {
  type        = number
  description = "Most pushes one resume request replays; the reply's `more` lists channels to resume again."
  default     = null
}

variable "lifecycle_events_enabled" {
  type        = bool
  description = "Publish wspush.connection.opened/closed and wspush.topic.occupied/vacated to the event bus (and count topic subscribers for them)."
  default     = null
}

variable "publish_jwt_issuer" {
  type        = string
  description = "Issuer URL (https://) of a JWT authorizer for POST /publish; null keeps IAM (SigV4). Default and validation in the module."
  default     = null
}

variable "publish_jwt_audience" {
  type        = list(string)
  description = "Audiences the POST /publish JWT authorizer accepts (with publish_jwt_issuer)."
  default     = null
}

variable "publish_sync_max_targets" {
  type        = number
  description = "POST /publish waits for the delivery report up to this many connections; above, it answers 202 (module default 100)."
  default     = null
}

variable "ack_timeout_seconds" {
  type        = number
  description = "How long (1-900 s) a push asking for receipts waits for an ack before wspush.push.unacknowledged; null for the module's default (60)."
  default     = null
}

variable "undelivered_events_enabled" {
  type        = bool
  description = "Publish wspush.push.undelivered when an entity or connection push reaches no live connection; null for the module's default (true)."
  default     = null
}

variable "failed_rate_alarm_threshold" {
  type        = number
  description = "Alarm when more than this share (0-1) of pushes end failed within five minutes; null for the module's default (0.05)."
  default     = null
}

variable "unacknowledged_rate_alarm_threshold" {
  type        = number
  description = "Alarm when more than this share (0-1) of pushes asking for receipts go unacknowledged within five minutes; null for the module's default (0.2)."
  default     = null
}

variable "public_publish_patterns" {
  type        = list(string)
  description = "Topic patterns every authenticated connection may publish on, besides its token's `publish` claim (module default none)."
  default     = null
}

variable "client_publish_rate_per_second" {
  type        = number
  description = "Messages per second one connection may publish (module default 10)."
  default     = null
}

variable "client_publish_burst" {
  type        = number
  description = "Messages one connection may publish at once (module default 20)."
  default     = null
}

variable "client_publish_hook_arn" {
  type        = string
  description = "Lambda function called before every client publish, to allow, reject or replace it (module default none)."
  default     = null
}

variable "client_publish_event_patterns" {
  type        = list(string)
  description = "Topic patterns whose client publishes also go to the event bus as wspush.client.published (module default none)."
  default     = null
}

variable "trace_max_connections" {
  type        = number
  description = "Connections a push's trace keeps in full (read with wspush trace ID); null for the module's default (1000)."
  default     = null
}
