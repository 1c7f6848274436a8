import pytest

from wspush.config import ConfigError, PublishConfig, PushConfig


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
    config = PushConfig.from_env({"CONNECTIONS_TABLE": "t", "CONNECTIONS_ENDPOINT": "https://x"})
    assert config.concurrency == 32 and config.scheduled_message == {"text": "scheduled push"}


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
