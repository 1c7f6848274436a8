# The functions were one module block each; they are now instances of module.functions.
moved {
  from = module.authorizer
  to   = module.functions["authorizer"]
}

moved {
  from = module.connect
  to   = module.functions["connect"]
}

moved {
  from = module.disconnect
  to   = module.functions["disconnect"]
}

moved {
  from = module.message
  to   = module.functions["message"]
}

moved {
  from = module.push
  to   = module.functions["push"]
}
