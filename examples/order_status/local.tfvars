# What `wspush run --example order_status` (make run EXAMPLE=order_status) applies on top of
# the defaults: the whole order takes four seconds instead of a minute and a half.
status_wait_seconds = {
  preparing        = 1
  baking           = 1
  out_for_delivery = 1
  delivered        = 1
}
