import pytest

from wspush.config import ConfigError, ConnectionsConfig, MessageConfig, PublishConfig, PushConfig


def test_a_missing_variable_is_named():
    with pytest.raises(ConfigError, match="CONNECTIONS_TABLE is required"):
        PushConfig.from_env({"CONNECTIONS_ENDPOINT": "https://x"})


def test_a_malformed_number_is_named():
    env = {
        "CONNECTIONS_TABLE": "t",
        "CONNECTIONS_ENDPOINT": "https://x",
        "PUSH_CONCURRENCY": "lots",
    }
    with pytest.raises(ConfigError, match="PUSH_CONCURRENCY must be an integer"):
        PushConfig.from_env(env)


def test_defaults_apply():
    config = PushConfig.from_env(
        {"CONNECTIONS_TABLE": "t", "CONNECTIONS_ENDPOINT": "https://x", "HISTORY_TABLE": "h"}
    )
    assert config.concurrency == 32 and config.scheduled_message == {"text": "scheduled push"}
    assert config.history_retention_seconds == 24 * 3600
    assert not config.lifecycle.enabled


def test_public_topic_patterns_must_be_a_json_list_of_strings():
    env = {
        "CONNECTIONS_TABLE": "t",
        "CONNECTIONS_ENDPOINT": "https://x",
        "HISTORY_TABLE": "h",
        "PUBLIC_TOPIC_PATTERNS": '["news", "rooms.*"]',
    }
    assert MessageConfig.from_env(env).public_topic_patterns == ("news", "rooms.*")
    with pytest.raises(ConfigError, match="PUBLIC_TOPIC_PATTERNS must be a JSON list"):
        MessageConfig.from_env({**env, "PUBLIC_TOPIC_PATTERNS": "news"})


def test_lifecycle_events_need_the_history_table():
    with pytest.raises(ConfigError, match="HISTORY_TABLE is required when LIFECYCLE_EVENT_BUS"):
        ConnectionsConfig.from_env({"CONNECTIONS_TABLE": "t", "LIFECYCLE_EVENT_BUS": "bus"})


def test_scheduled_message_must_be_json():
    env = {"CONNECTIONS_TABLE": "t", "CONNECTIONS_ENDPOINT": "https://x", "SCHEDULED_MESSAGE": "{"}
    with pytest.raises(ConfigError, match="SCHEDULED_MESSAGE is not JSON"):
        PushConfig.from_env(env)


def test_publish_config_needs_the_push_function_and_allows_always_background():
    with pytest.raises(ConfigError, match="PUSH_FUNCTION_NAME"):
        PublishConfig.from_env({"CONNECTIONS_TABLE": "t"})
    config = PublishConfig.from_env(
        {"CONNECTIONS_TABLE": "t", "PUSH_FUNCTION_NAME": "p", "PUBLISH_SYNC_MAX_TARGETS": "0"}
    )
    assert (config.sync_max_targets, config.sync_wait_seconds) == (0, 10)
    with pytest.raises(ConfigError, match="PUBLISH_SYNC_MAX_TARGETS"):
        PublishConfig.from_env(
            {"CONNECTIONS_TABLE": "t", "PUSH_FUNCTION_NAME": "p", "PUBLISH_SYNC_MAX_TARGETS": "-1"}
        )
