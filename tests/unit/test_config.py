import pytest

from wspush.config import (
    AuthorizerConfig,
    ConfigError,
    ConnectionsConfig,
    MessageConfig,
    PublishConfig,
    PushConfig,
)


def test_a_missing_variable_is_named():
    with pytest.raises(ConfigError, match="CONNECTIONS_TABLE is required"):
        PushConfig.from_env({"CONNECTIONS_ENDPOINT": "https://x"})


def test_a_malformed_number_is_named():
    env = {
        "CONNECTIONS_TABLE": "t",
        "CONNECTIONS_ENDPOINT": "https://x",
        "AWS_LAMBDA_FUNCTION_NAME": "f",
        "PUSH_CONCURRENCY": "lots",
    }
    with pytest.raises(ConfigError, match="PUSH_CONCURRENCY must be an integer"):
        PushConfig.from_env(env)


def test_defaults_apply():
    env = {"CONNECTIONS_TABLE": "t", "CONNECTIONS_ENDPOINT": "https://x", "HISTORY_TABLE": "h"}
    config = PushConfig.from_env({**env, "AWS_LAMBDA_FUNCTION_NAME": "f"})
    assert config.concurrency == 32 and config.scheduled_message == {"text": "scheduled push"}
    assert (config.shard_size, config.shard_parallelism, config.rate_limit) == (5000, 10, 5000)
    assert config.history_retention_seconds == 24 * 3600
    assert not config.lifecycle.enabled


def test_the_push_function_must_know_its_own_name():
    env = {"CONNECTIONS_TABLE": "t", "CONNECTIONS_ENDPOINT": "https://x", "HISTORY_TABLE": "h"}
    with pytest.raises(ConfigError, match="AWS_LAMBDA_FUNCTION_NAME"):
        PushConfig.from_env(env)


def test_lifecycle_events_need_the_history_table():
    with pytest.raises(ConfigError, match="HISTORY_TABLE is required when LIFECYCLE_EVENT_BUS"):
        ConnectionsConfig.from_env({"CONNECTIONS_TABLE": "t", "LIFECYCLE_EVENT_BUS": "bus"})


def test_scheduled_message_must_be_json():
    env = {"CONNECTIONS_TABLE": "t", "CONNECTIONS_ENDPOINT": "https://x", "SCHEDULED_MESSAGE": "{"}
    with pytest.raises(ConfigError, match="SCHEDULED_MESSAGE is not JSON"):
        PushConfig.from_env(env)


def test_public_topic_patterns_and_the_subscription_limit_are_read():
    base = {"CONNECTIONS_TABLE": "t", "CONNECTIONS_ENDPOINT": "https://x", "HISTORY_TABLE": "h"}
    assert MessageConfig.from_env(base).public_topic_patterns == ()
    assert MessageConfig.from_env(base).max_subscriptions == 100
    config = MessageConfig.from_env(
        {**base, "PUBLIC_TOPIC_PATTERNS": "news, demo.*", "MAX_SUBSCRIPTIONS_PER_CONNECTION": "5"}
    )
    assert (config.public_topic_patterns, config.max_subscriptions) == (("news", "demo.*"), 5)


def test_a_bad_public_pattern_is_named():
    env = {
        "CONNECTIONS_TABLE": "t",
        "CONNECTIONS_ENDPOINT": "x",
        "HISTORY_TABLE": "h",
        "PUBLIC_TOPIC_PATTERNS": "a b",
    }
    with pytest.raises(ConfigError, match="PUBLIC_TOPIC_PATTERNS: 'a b' is not a topic pattern"):
        MessageConfig.from_env(env)


def test_audience_and_issuer_are_optional():
    config = AuthorizerConfig.from_env({"TOKEN_SECRET_PARAMETER": "/p", "TOKEN_AUDIENCE": " "})
    assert (config.token_audience, config.token_issuer) == (None, None)
    config = AuthorizerConfig.from_env(
        {"TOKEN_SECRET_PARAMETER": "/p", "TOKEN_AUDIENCE": "wspush", "TOKEN_ISSUER": "auth"}
    )
    assert (config.token_audience, config.token_issuer) == ("wspush", "auth")


def test_wspush_tokens_are_on_and_no_provider_is_trusted_by_default():
    config = AuthorizerConfig.from_env({"TOKEN_SECRET_PARAMETER": "/p"})
    assert (config.hs256_enabled, config.oidc_issuers) == (True, ())


def test_trusted_issuers_are_read_and_checked():
    issuers = '[{"issuer": "https://idp.example", "audiences": ["app"]}]'
    config = AuthorizerConfig.from_env(
        {"TOKEN_SECRET_PARAMETER": "/p", "OIDC_ISSUERS": issuers, "TOKEN_HS256_ENABLED": "false"}
    )
    assert config.hs256_enabled is False
    assert [issuer.issuer for issuer in config.oidc_issuers] == ["https://idp.example"]
    with pytest.raises(ConfigError, match="OIDC_ISSUERS: issuer 1: needs audiences"):
        AuthorizerConfig.from_env(
            {"TOKEN_SECRET_PARAMETER": "/p", "OIDC_ISSUERS": '[{"issuer": "https://idp.example"}]'}
        )
    with pytest.raises(ConfigError, match="OIDC_ISSUERS: not JSON"):
        AuthorizerConfig.from_env({"TOKEN_SECRET_PARAMETER": "/p", "OIDC_ISSUERS": "[{"})


def test_turning_every_kind_of_token_off_is_refused():
    with pytest.raises(ConfigError, match="no token could ever connect"):
        AuthorizerConfig.from_env({"TOKEN_SECRET_PARAMETER": "/p", "TOKEN_HS256_ENABLED": "false"})


def test_publish_config_needs_the_push_function_and_allows_always_background():
    with pytest.raises(ConfigError, match="PUSH_FUNCTION_NAME"):
        PublishConfig.from_env({"CONNECTIONS_TABLE": "t"})
    config = PublishConfig.from_env(
        {
            "CONNECTIONS_TABLE": "t",
            "HISTORY_TABLE": "h",
            "PUSH_FUNCTION_NAME": "p",
            "PUBLISH_SYNC_MAX_TARGETS": "0",
        }
    )
    assert (config.sync_max_targets, config.sync_wait_seconds) == (0, 10)
    with pytest.raises(ConfigError, match="PUBLISH_SYNC_MAX_TARGETS"):
        PublishConfig.from_env(
            {
                "CONNECTIONS_TABLE": "t",
                "HISTORY_TABLE": "h",
                "PUSH_FUNCTION_NAME": "p",
                "PUBLISH_SYNC_MAX_TARGETS": "-1",
            }
        )
