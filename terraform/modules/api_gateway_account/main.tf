# API Gateway writes the access logs of REST and WebSocket stages with ONE role per account
# and region (its account settings). Until that role is set, CreateStage and UpdateStage
# with access logging fail ("CloudWatch Logs role ARN must be set in account settings to
# enable logging"), which is where every brand-new account starts.
data "aws_region" "current" {}

data "aws_partition" "current" {}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  # IAM is global and the setting is regional: the region keeps two regions' roles apart.
  name               = "${var.name}-apigw-logs-${data.aws_region.current.name}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags

  lifecycle {
    precondition {
      condition     = length("${var.name}-apigw-logs-${data.aws_region.current.name}") <= 64
      error_message = "The role name \"${var.name}-apigw-logs-${data.aws_region.current.name}\" is longer than the 64 characters IAM allows: shorten name."
    }
  }
}

resource "aws_iam_role_policy_attachment" "this" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  cloudwatch_role_arn = aws_iam_role.this.arn
  # Destroying this must not leave the account pointing at the role it deletes (every
  # stage's logging in the region would then fail): it clears the setting instead.
  reset_on_delete = true

  depends_on = [aws_iam_role_policy_attachment.this]
}
