# wspush trusting a Cognito user pool: users sign in with Cognito and connect with the ID
# token they get; their groups grant topics. No token endpoint of your own.
#
#   user --admin-initiate-auth / SRP--> Cognito --ID token--> wss://…?token=<ID token>
#   $connect authorizer --JWKS of this pool only--> entity = sub, topics from cognito:groups

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  # The pool's `iss`, exactly as its tokens carry it.
  issuer = "https://cognito-idp.${data.aws_region.current.name}.${data.aws_partition.current.dns_suffix}/${aws_cognito_user_pool.users.id}"
}

# --- Cognito: the users, the app they sign in to, and the groups that grant topics -------

resource "aws_cognito_user_pool" "users" {
  name                = "${var.name}-${var.stage_name}"
  deletion_protection = var.deletion_protection ? "ACTIVE" : "INACTIVE"
  username_attributes = ["email"]

  # Users are created by an administrator (admin-create-user), never by sign-up.
  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  password_policy {
    minimum_length                   = 12
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = false
    temporary_password_validity_days = 3
  }

  user_pool_add_ons {
    advanced_security_mode = "OFF"
  }
}

resource "aws_cognito_user_pool_client" "app" {
  name         = "${var.name}-${var.stage_name}-app"
  user_pool_id = aws_cognito_user_pool.users.id

  # A public client (a browser or a mobile app holds no secret). The admin password flow is
  # for scripts and tests with AWS credentials; browsers sign in with SRP.
  generate_secret = false
  explicit_auth_flows = [
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
  ]
  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true

  # An ID token opens a connection for an hour; the client refreshes it before then and
  # reconnects with the new one (clients/js/README.md).
  id_token_validity      = 60
  access_token_validity  = 60
  refresh_token_validity = 30
  token_validity_units {
    id_token      = "minutes"
    access_token  = "minutes"
    refresh_token = "days"
  }
}

resource "aws_cognito_user_group" "topic_grants" {
  for_each = var.group_topics

  name         = each.key
  user_pool_id = aws_cognito_user_pool.users.id
  description  = "Grants the wspush topics ${join(", ", each.value)}."
}

# --- wspush, trusting the pool ------------------------------------------------------------

module "wspush" {
  #checkov:skip=CKV_TF_1:A release tag is the version this example documents (CHANGELOG.md, checksummed artifacts); pin a commit hash in your own root if tags must not be trusted to stay put.
  source = "git::https://github.com/wspush/wspush.git//terraform/modules/wspush?ref=v0.3.0"

  # The release's function zip, downloaded beside this file or uploaded to S3.
  lambda_package             = var.lambda_package
  name                       = var.name
  stage_name                 = var.stage_name
  log_retention_days         = var.log_retention_days
  deletion_protection        = var.deletion_protection
  manage_api_gateway_account = var.manage_api_gateway_account
  monitoring_enabled         = var.monitoring_enabled
  public_topic_patterns      = var.public_topic_patterns
  schedule_enabled           = false

  # Only the pool's tokens open connections; wspush's own are off.
  connect_hs256_enabled = false
  connect_oidc_issuers = [{
    issuer = local.issuer
    # ID tokens name the app client in `aud`, access tokens in `client_id`: both accepted.
    audiences    = [aws_cognito_user_pool_client.app.id]
    client_ids   = [aws_cognito_user_pool_client.app.id]
    token_use    = ["id", "access"]
    group_topics = { claim = "cognito:groups", patterns = var.group_topics }
  }]
}
