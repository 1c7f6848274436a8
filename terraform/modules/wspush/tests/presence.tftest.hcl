# Plan-only: live presence settings reach the functions that add or remove subscription
# rows, $disconnect gets @connections only with presence topics, and bad values fail.
mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  package_dir = "../../../dist"
}

run "presence_is_off_by_default" {
  command = plan

  assert {
    condition = (
      !contains(keys(local.function_definitions.message.environment), "PRESENCE_TOPIC_PATTERNS") &&
      length(local.function_definitions.disconnect.environment) == 0 &&
      length(local.announce_presence) == 0
    )
    error_message = "Without presence_topic_patterns, no function gets presence settings and $disconnect no @connections grant."
  }
}

run "presence_settings_reach_message_disconnect_and_push" {
  command = plan

  variables {
    presence_topic_patterns = ["room.*", "lobby"]
    presence_max_members    = 25
  }

  assert {
    condition = alltrue([
      for name in ["message", "disconnect", "push"] :
      local.function_definitions[name].environment["PRESENCE_TOPIC_PATTERNS"] == "room.*,lobby" &&
      local.function_definitions[name].environment["PRESENCE_MAX_MEMBERS"] == "25"
    ])
    error_message = "presence_topic_patterns and presence_max_members must reach the message, disconnect and push functions."
  }

  assert {
    condition     = local.function_definitions.disconnect.environment["CONNECTIONS_ENDPOINT"] != ""
    error_message = "With presence topics, $disconnect must know the @connections endpoint to announce member_left."
  }

  assert {
    condition     = contains([for s in local.function_access.disconnect : s.sid], "AnnouncePresence")
    error_message = "With presence topics, $disconnect must be allowed to post to connections."
  }
}

run "the_push_function_may_read_back_its_targets_subscriptions" {
  command = plan

  assert {
    condition     = contains([for s in local.function_access.push : s.sid], "ReadSubscriptionsOfTargets")
    error_message = "The push function needs BatchGetItem on the connections table for sharded wildcard audiences."
  }
}

run "presence_pattern_invalid" {
  command = plan

  variables {
    presence_topic_patterns = ["room.**"]
  }

  expect_failures = [var.presence_topic_patterns]
}

run "presence_needs_lifecycle_events" {
  command = plan

  variables {
    presence_topic_patterns  = ["room.*"]
    lifecycle_events_enabled = false
  }

  expect_failures = [var.presence_topic_patterns]
}

run "presence_max_members_out_of_range" {
  command = plan

  variables {
    presence_max_members = 0
  }

  expect_failures = [var.presence_max_members]
}
