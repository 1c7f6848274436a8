# The thin root: providers (providers.tf), state (versions.tf) and one call to the wspush
# module, which holds the whole stack. Your own configuration can call the module the same
# way (see examples/).

module "wspush" {
  source = "./modules/wspush"

  lambda_package                      = var.lambda_package
  name                                = var.name
  stage_name                          = var.stage_name
  throttling_burst_limit              = var.throttling_burst_limit
  throttling_rate_limit               = var.throttling_rate_limit
  log_retention_days                  = var.log_retention_days
  log_level                           = var.log_level
  schedule_expression                 = var.schedule_expression
  schedule_enabled                    = var.schedule_enabled
  scheduled_message                   = var.scheduled_message
  scheduled_audience                  = var.scheduled_audience
  auth_disabled                       = var.auth_disabled
  allowed_origins                     = var.allowed_origins
  require_query_token                 = var.require_query_token
  token_secret                        = var.token_secret
  token_secret_version                = var.token_secret_version
  token_audience                      = var.token_audience
  token_issuer                        = var.token_issuer
  connect_hs256_enabled               = var.connect_hs256_enabled
  connect_oidc_issuers                = var.connect_oidc_issuers
  public_topic_patterns               = var.public_topic_patterns
  max_subscriptions_per_connection    = var.max_subscriptions_per_connection
  presence_topic_patterns             = var.presence_topic_patterns
  presence_max_members                = var.presence_max_members
  connection_budget_per_second        = var.connection_budget_per_second
  connection_budget_burst             = var.connection_budget_burst
  deletion_protection                 = var.deletion_protection
  create_kms_key                      = var.create_kms_key
  kms_key_arn                         = var.kms_key_arn
  function_settings                   = var.function_settings
  push_concurrency                    = var.push_concurrency
  push_shard_size                     = var.push_shard_size
  push_shard_parallelism              = var.push_shard_parallelism
  push_rate_limit                     = var.push_rate_limit
  push_max_hand_ons                   = var.push_max_hand_ons
  push_max_age_seconds                = var.push_max_age_seconds
  push_retry_attempts                 = var.push_retry_attempts
  push_max_event_age_seconds          = var.push_max_event_age_seconds
  manage_api_gateway_account          = var.manage_api_gateway_account
  xray_sdk_tracing                    = var.xray_sdk_tracing
  monitoring_enabled                  = var.monitoring_enabled
  alarm_email                         = var.alarm_email
  gone_rate_alarm_threshold           = var.gone_rate_alarm_threshold
  publish_jwt_issuer                  = var.publish_jwt_issuer
  publish_jwt_audience                = var.publish_jwt_audience
  publish_sync_max_targets            = var.publish_sync_max_targets
  custom_routes                       = var.custom_routes
  history_retention_hours             = var.history_retention_hours
  resume_max_messages                 = var.resume_max_messages
  lifecycle_events_enabled            = var.lifecycle_events_enabled
  public_publish_patterns             = var.public_publish_patterns
  client_publish_rate_per_second      = var.client_publish_rate_per_second
  client_publish_burst                = var.client_publish_burst
  client_publish_hook_arn             = var.client_publish_hook_arn
  client_publish_event_patterns       = var.client_publish_event_patterns
  ack_timeout_seconds                 = var.ack_timeout_seconds
  undelivered_events_enabled          = var.undelivered_events_enabled
  failed_rate_alarm_threshold         = var.failed_rate_alarm_threshold
  unacknowledged_rate_alarm_threshold = var.unacknowledged_rate_alarm_threshold
  trace_max_connections               = var.trace_max_connections
}
