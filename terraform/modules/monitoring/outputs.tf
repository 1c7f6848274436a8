output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  description = "Names of every alarm."
  value = concat(
    [for alarm in aws_cloudwatch_metric_alarm.threshold : alarm.alarm_name],
    [aws_cloudwatch_metric_alarm.gone_rate.alarm_name, aws_cloudwatch_metric_alarm.table_throttles.alarm_name],
    [for alarm in aws_cloudwatch_metric_alarm.rate : alarm.alarm_name],
  )
}

output "dashboard_url" {
  description = "URL of the CloudWatch dashboard."
  value       = "https://${data.aws_region.current.name}.console.aws.amazon.com/cloudwatch/home?region=${data.aws_region.current.name}#dashboards/dashboard/${aws_cloudwatch_dashboard.this.dashboard_name}"
}

output "kms_key_arn_in_use" {
  description = "Customer-managed key encrypting the alarm topic; null when it is not encrypted."
  value       = aws_sns_topic.alarms.kms_master_key_id
}
