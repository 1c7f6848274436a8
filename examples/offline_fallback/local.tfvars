# What `wspush run --example offline_fallback` (make run EXAMPLE=offline_fallback) applies on
# top of the defaults: a receipt is awaited three seconds instead of a minute.
ack_timeout_seconds = 3
