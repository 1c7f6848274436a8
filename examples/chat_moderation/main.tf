# A chat room whose messages are moderated before anyone sees them, over wspush:
#
#   client --publish--> wspush's message λ --invoke (the hook)--> moderate λ
#   moderate λ: allow, reject (the publisher is told why) or replace (words starred out)
#   wspush's message λ --@connections--> the room's other connections, from: {entityId}
#   and every chat message on wspush's event bus (wspush.client.published), to keep it

locals {
  name = "${var.name}-${var.stage_name}"
}

# --- wspush, with client publishing on chat.* and the hook ------------------------------

module "wspush" {
  #checkov:skip=CKV_TF_1:A release tag is the version this example documents (CHANGELOG.md, checksummed artifacts); pin a commit hash in your own root if tags must not be trusted to stay put.
  source = "git::https://github.com/wspush/wspush.git//terraform/modules/wspush?ref=v0.3.0"

  lambda_package             = var.lambda_package
  name                       = var.name
  stage_name                 = var.stage_name
  log_retention_days         = var.log_retention_days
  deletion_protection        = var.deletion_protection
  manage_api_gateway_account = var.manage_api_gateway_account
  monitoring_enabled         = var.monitoring_enabled
  schedule_enabled           = false

  # Everyone may read and write the chat rooms; a token's claims may grant more.
  public_topic_patterns          = distinct(concat(["chat.*"], var.public_topic_patterns))
  public_publish_patterns        = ["chat.*"]
  client_publish_rate_per_second = var.messages_per_second
  client_publish_burst           = var.messages_burst
  client_publish_hook_arn        = module.moderate.function_arn
  client_publish_event_patterns  = ["chat.*"]
}

# --- The hook: allows, rejects or rewrites every chat message ---------------------------

# It calls nothing: its role may only write its own logs.
data "aws_iam_policy_document" "moderate" {}

module "moderate" {
  #checkov:skip=CKV_TF_1:A release tag is the version this example documents (CHANGELOG.md, checksummed artifacts); pin a commit hash in your own root if tags must not be trusted to stay put.
  source = "git::https://github.com/wspush/wspush.git//terraform/modules/lambda_function?ref=v0.3.0"

  function_name      = "${local.name}-moderate"
  description        = "wspush's client publish hook: allows, rejects or rewrites chat messages."
  handler            = "chat_moderation.handlers.moderate.handler"
  package            = var.moderate_package
  policy_json        = data.aws_iam_policy_document.moderate.json
  timeout            = 3
  log_retention_days = var.log_retention_days
  environment = {
    BLOCKED_WORDS = join(",", var.blocked_words)
    MASKED_WORDS  = join(",", var.masked_words)
  }
}
