output "function_name" {
  description = "Name of the function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the function."
  value       = aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "ARN API Gateway uses to invoke the function."
  value       = aws_lambda_function.this.invoke_arn
}

output "role_name" {
  description = "Name of the function's IAM role."
  value       = aws_iam_role.this.name
}

output "role_arn" {
  description = "ARN of the function's IAM role."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "Name of the function's log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "policy_json" {
  description = "The function's complete inline IAM policy."
  value       = data.aws_iam_policy_document.this.json
}

output "async_config" {
  description = "Asynchronous invocation settings (retries, maximum event age, on-failure destination); null for synchronous functions."
  value = var.async_invocation ? {
    maximum_retry_attempts       = aws_lambda_function_event_invoke_config.this[0].maximum_retry_attempts
    maximum_event_age_in_seconds = aws_lambda_function_event_invoke_config.this[0].maximum_event_age_in_seconds
    on_failure_destination       = aws_lambda_function_event_invoke_config.this[0].destination_config[0].on_failure[0].destination
  } : null
}

output "code_source" {
  description = "Where the function's code comes from: the local zip and its hash (source_code_hash), or its S3 object."
  value = {
    filename          = aws_lambda_function.this.filename
    source_code_hash  = aws_lambda_function.this.source_code_hash
    s3_bucket         = aws_lambda_function.this.s3_bucket
    s3_key            = aws_lambda_function.this.s3_key
    s3_object_version = aws_lambda_function.this.s3_object_version
  }
}
