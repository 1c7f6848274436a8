# What `wspush run --example order_status` (make run EXAMPLE=order_status) applies on top of
# the defaults: the whole order takes eight seconds instead of a minute and a half. Each
# wait stays longer than a status takes to reach the client, so statuses arrive in order.
status_wait_seconds = {
  preparing        = 2
  baking           = 2
  out_for_delivery = 2
  delivered        = 2
}
