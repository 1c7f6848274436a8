data "aws_region" "current" {}

locals {
  # Dimensions of wspush's own (EMF) metrics.
  app_dimensions = { service = "wspush", stage = var.stage_name }
  period         = 300

  # Every "> 0 in five minutes" alarm: per function errors and throttles (pushes or
  # connects failing), failed pushes, dead letters and API Gateway errors.
  threshold_alarms = merge(
    merge([
      for role, name in var.function_names : {
        "${role}-errors" = {
          namespace   = "AWS/Lambda", metric = "Errors", statistic = "Sum"
          dimensions  = tomap({ FunctionName = name })
          description = "The ${role} function raised errors."
        }
        "${role}-throttles" = {
          namespace   = "AWS/Lambda", metric = "Throttles", statistic = "Sum"
          dimensions  = tomap({ FunctionName = name })
          description = "The ${role} function was throttled (concurrency exhausted)."
        }
      }
    ]...),
    {
      push-failed = {
        namespace   = var.metrics_namespace, metric = "PushFailed", statistic = "Sum"
        dimensions  = tomap(local.app_dimensions)
        description = "Pushes failed: none of their connections could be sent to after every retry (see docs/operations.md)."
      }
      push-shards-failed = {
        namespace   = var.metrics_namespace, metric = "PushShardsFailed", statistic = "Sum"
        dimensions  = tomap(local.app_dimensions)
        description = "A sharded push lost a shard after its retries; the push is retried with the same id (see docs/operations.md)."
      }
      api-integration-errors = {
        namespace   = "AWS/ApiGateway", metric = "IntegrationError", statistic = "Sum"
        dimensions  = tomap({ ApiId = var.api_id, Stage = var.stage_name })
        description = "API Gateway got errors from the route functions."
      }
      api-execution-errors = {
        namespace   = "AWS/ApiGateway", metric = "ExecutionError", statistic = "Sum"
        dimensions  = tomap({ ApiId = var.api_id, Stage = var.stage_name })
        description = "API Gateway failed to run routes (e.g. authorizer or integration failures)."
      }
    },
    var.identity_provider_alarm ? {
      jwks-fetch-failed = {
        namespace   = var.metrics_namespace, metric = "JwksFetchFailed", statistic = "Sum"
        dimensions  = tomap(local.app_dimensions)
        description = "A trusted identity provider's signing keys (JWKS) could not be fetched: kept keys still verify for a while, then its users cannot connect (see docs/identity.md)."
      }
    } : {},
    # One per queue: "dead-letters" for the push dead-letter queue (invocation records, `wspush
    # dlq`), "dead-letters-<n>" for the others (e.g. events EventBridge could not deliver).
    {
      for index, queue in var.dead_letter_queue_names : (index == 0 ? "dead-letters" : "dead-letters-${index}") => {
        namespace   = "AWS/SQS", metric = "ApproximateNumberOfMessagesVisible", statistic = "Maximum"
        dimensions  = tomap({ QueueName = queue })
        description = "Messages are waiting in ${queue}: see docs/operations.md (list and redrive the push dead-letter queue with `wspush dlq`)."
      }
    },
  )
}

# CloudWatch publishes to the topic as cloudwatch.amazonaws.com, which the AWS-managed
# aws/sns key's policy cannot grant: the topic is either under a customer-managed key whose
# policy grants CloudWatch (var.kms_key_arn) or not encrypted at all.
resource "aws_sns_topic" "alarms" {
  #checkov:skip=CKV_AWS_26:Encrypted with var.kms_key_arn when given (its key policy grants CloudWatch); alarms could never publish to a topic under the AWS-managed key, and alarm notifications carry no secrets.
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# Every alarm below treats missing data as "not breaching": these metrics are only
# published when something happens (an error, a push, a queued message), so silence
# means nothing went wrong, not that the alarm lost its data.

resource "aws_cloudwatch_metric_alarm" "threshold" {
  for_each = local.threshold_alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = local.period
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "gone_rate" {
  alarm_name          = "${var.name}-gone-rate"
  alarm_description   = "More than ${var.gone_rate_threshold * 100}% of pushed connections were gone (410): clients vanishing en masse."
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.gone_rate_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags

  metric_query {
    id          = "gone_rate"
    label       = "Share of targeted connections that were gone"
    expression  = "IF(targeted >= ${var.gone_rate_min_targeted}, gone / targeted, 0)"
    return_data = true
  }

  metric_query {
    id = "gone"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "PushGone"
      dimensions  = local.app_dimensions
      stat        = "Sum"
      period      = local.period
    }
  }

  metric_query {
    id = "targeted"
    metric {
      namespace   = var.metrics_namespace
      metric_name = "PushTargeted"
      dimensions  = local.app_dimensions
      stat        = "Sum"
      period      = local.period
    }
  }
}

# Shares of pushes, not counts: a busy deployment fails a few pushes every day; an alarm
# says when the share grows. Only with enough pushes in the period to mean something.
locals {
  rate_alarms = {
    failed-rate = {
      description = "More than ${var.failed_rate_threshold * 100}% of pushes ended failed: see docs/operations.md (a user says a push never arrived)."
      threshold   = var.failed_rate_threshold
      part        = "PushFailed"
      wholes      = ["PushDelivered", "PushPartial", "PushNoRecipients", "PushFailed"]
    }
    unacknowledged-rate = {
      description = "More than ${var.unacknowledged_rate_threshold * 100}% of pushes asking for receipts were not acknowledged in time: see docs/operations.md."
      threshold   = var.unacknowledged_rate_threshold
      part        = "PushUnacknowledged"
      wholes      = ["PushAckRequested"]
    }
  }
  rate_alarm_min_pushes = 10
}

resource "aws_cloudwatch_metric_alarm" "rate" {
  for_each = local.rate_alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags

  metric_query {
    id          = "rate"
    label       = "Share of pushes"
    expression  = "IF(whole >= ${local.rate_alarm_min_pushes}, part / whole, 0)"
    return_data = true
  }

  metric_query {
    id         = "whole"
    expression = join(" + ", [for index in range(length(each.value.wholes)) : "FILL(w${index}, 0)"])
  }

  metric_query {
    id = "part"
    metric {
      namespace   = var.metrics_namespace
      metric_name = each.value.part
      dimensions  = local.app_dimensions
      stat        = "Sum"
      period      = local.period
    }
  }

  dynamic "metric_query" {
    for_each = each.value.wholes

    content {
      id = "w${metric_query.key}"
      metric {
        namespace   = var.metrics_namespace
        metric_name = metric_query.value
        dimensions  = local.app_dimensions
        stat        = "Sum"
        period      = local.period
      }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "table_throttles" {
  alarm_name          = "${var.name}-table-throttles"
  alarm_description   = "The connections table throttled reads or writes."
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags

  metric_query {
    id          = "throttled"
    label       = "Throttled table requests"
    expression  = "reads + writes"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = { reads = "ReadThrottleEvents", writes = "WriteThrottleEvents" }

    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/DynamoDB"
        metric_name = metric_query.value
        dimensions  = { TableName = var.table_name }
        stat        = "Sum"
        period      = local.period
      }
    }
  }
}

resource "aws_cloudwatch_query_definition" "failed_pushes_by_entity" {
  name            = "${var.name}/failed-pushes-by-entity"
  log_group_names = [var.push_log_group_name]
  query_string    = <<-QUERY
    fields @timestamp, audience, entityId, messageId, status, failed, reasons, failedConnectionIds
    | filter ispresent(status) and failed > 0
    | stats sum(failed) as failedPosts, count(*) as pushes by audience, entityId
    | sort failedPosts desc
  QUERY
}

resource "aws_cloudwatch_query_definition" "denied_connects_by_reason" {
  name            = "${var.name}/denied-connects-by-reason"
  log_group_names = [var.authorizer_log_group_name]
  query_string    = <<-QUERY
    fields @timestamp, reason, connectionId
    | filter message = "connect denied"
    | stats count(*) as denied by reason
    | sort denied desc
  QUERY
}

resource "aws_cloudwatch_dashboard" "this" {
  # Dashboards are global to the account: the region keeps two regions' apart.
  dashboard_name = "${var.name}-${data.aws_region.current.name}"
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 8, height = 6
        properties = {
          title = "Live connections (opened - closed, over the window)", region = data.aws_region.current.name, view = "timeSeries"
          metrics = [
            [{ expression = "RUNNING_SUM(opened - closed)", label = "live", id = "live" }],
            [var.metrics_namespace, "ConnectionsOpened", "service", "wspush", "stage", var.stage_name, { id = "opened", visible = false, stat = "Sum" }],
            [var.metrics_namespace, "ConnectionsClosed", "service", "wspush", "stage", var.stage_name, { id = "closed", visible = false, stat = "Sum" }],
          ]
        }
      },
      {
        type = "metric", x = 8, y = 0, width = 8, height = 6
        properties = {
          title = "Messages in", region = data.aws_region.current.name, view = "timeSeries", stat = "Sum"
          metrics = [
            [var.metrics_namespace, "MessagesReceived", "service", "wspush", "stage", var.stage_name],
            [var.metrics_namespace, "MessageErrors", "service", "wspush", "stage", var.stage_name],
            [var.metrics_namespace, "ConnectDenied", "service", "wspush", "stage", var.stage_name],
          ]
        }
      },
      {
        type = "metric", x = 16, y = 0, width = 8, height = 6
        properties = {
          title   = "Pushes: sent, gone, failed", region = data.aws_region.current.name, view = "timeSeries", stat = "Sum"
          metrics = [for name in ["PushSent", "PushGone", "PushConnectionsFailed", "PushThrottled", "PushShards"] : [var.metrics_namespace, name, "service", "wspush", "stage", var.stage_name]]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 8, height = 6
        properties = {
          title = "Push duration (ms)", region = data.aws_region.current.name, view = "timeSeries"
          metrics = [
            [var.metrics_namespace, "PushDuration", "service", "wspush", "stage", var.stage_name, { stat = "p50", label = "p50" }],
            [var.metrics_namespace, "PushDuration", "service", "wspush", "stage", var.stage_name, { stat = "p99", label = "p99" }],
          ]
        }
      },
      {
        type = "metric", x = 8, y = 6, width = 8, height = 6
        properties = {
          title = "Lambda errors and throttles", region = data.aws_region.current.name, view = "timeSeries", stat = "Sum"
          metrics = flatten([for name in values(var.function_names) : [
            ["AWS/Lambda", "Errors", "FunctionName", name],
            ["AWS/Lambda", "Throttles", "FunctionName", name],
          ]])
        }
      },
      {
        type = "metric", x = 16, y = 6, width = 8, height = 6
        properties = {
          title   = "Lambda duration p99 (ms)", region = data.aws_region.current.name, view = "timeSeries", stat = "p99"
          metrics = [for name in values(var.function_names) : ["AWS/Lambda", "Duration", "FunctionName", name]]
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 8, height = 6
        properties = {
          title   = "Dead-letter queue depth", region = data.aws_region.current.name, view = "timeSeries", stat = "Maximum"
          metrics = [for queue in var.dead_letter_queue_names : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue]]
        }
      },
      {
        type = "metric", x = 8, y = 12, width = 8, height = 6
        properties = {
          title   = "Push outcomes (and undelivered events)", region = data.aws_region.current.name, view = "timeSeries", stat = "Sum"
          metrics = [for name in ["PushDelivered", "PushPartial", "PushNoRecipients", "PushFailed", "PushUndelivered"] : [var.metrics_namespace, name, "service", "wspush", "stage", var.stage_name]]
        }
      },
      {
        type = "metric", x = 16, y = 12, width = 8, height = 6
        properties = {
          title   = "Receipts: asked, acknowledged, unacknowledged", region = data.aws_region.current.name, view = "timeSeries", stat = "Sum"
          metrics = [for name in ["PushAckRequested", "PushAcknowledged", "PushUnacknowledged"] : [var.metrics_namespace, name, "service", "wspush", "stage", var.stage_name]]
        }
      },
    ]
  })
}
