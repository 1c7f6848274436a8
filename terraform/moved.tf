# The whole stack moved from the root into module.wspush; these blocks keep existing state.
moved {
  from = module.connections_table
  to   = module.wspush.module.connections_table
}

moved {
  from = module.token_secret
  to   = module.wspush.module.token_secret
}

moved {
  from = module.functions
  to   = module.wspush.module.functions
}

moved {
  from = module.websocket_api
  to   = module.wspush.module.websocket_api
}

moved {
  from = module.push_schedule
  to   = module.wspush.module.push_schedule
}

moved {
  from = module.monitoring
  to   = module.wspush.module.monitoring
}

# Earlier still, the functions were one module block each.
moved {
  from = module.authorizer
  to   = module.wspush.module.functions["authorizer"]
}

moved {
  from = module.connect
  to   = module.wspush.module.functions["connect"]
}

moved {
  from = module.disconnect
  to   = module.wspush.module.functions["disconnect"]
}

moved {
  from = module.message
  to   = module.wspush.module.functions["message"]
}

moved {
  from = module.push
  to   = module.wspush.module.functions["push"]
}
