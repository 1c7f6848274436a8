output "websocket_url" {
  description = "wss:// URL your clients connect to (append ?token=...)."
  value       = module.wspush.websocket_url
}

output "event_bus_name" {
  description = "Put wspush.notification events here to push from your services."
  value       = module.wspush.event_bus_name
}

output "push_function_name" {
  description = "Invoke this function to push directly."
  value       = module.wspush.function_names["push"]
}

output "token_secret_parameter_name" {
  description = "SSM parameter holding the token-signing secret your backend signs tokens with."
  value       = module.wspush.token_secret_parameter_name
}
