"""Settings come from the environment strictly: a malformed value is an error, not a default."""

from __future__ import annotations

import pytest

from api import create_app
from api.settings import settings_from_env
from jobs.env import ConfigError, env_bool
from worker.settings import WorkerSettings


def test_worker_settings_defaults_and_overrides():
    settings = WorkerSettings.from_env({"REDIS_URL": "redis://redis.example:6379/2"})
    assert settings.redis_url == "redis://redis.example:6379/2"
    assert settings.soft_time_limit < settings.time_limit < settings.visibility_timeout
    custom = WorkerSettings.from_env(
        {"NEWSNLP_TASK_SOFT_TIME_LIMIT": "30", "NEWSNLP_SUMMARIZER": "seq2seq"}
    )
    assert (custom.soft_time_limit, custom.time_limit) == (30, 60)
    assert custom.summarizer == "seq2seq"


@pytest.mark.parametrize(
    "env",
    [
        {"NEWSNLP_TASK_SOFT_TIME_LIMIT": "two minutes"},
        {"NEWSNLP_TASK_SOFT_TIME_LIMIT": "60", "NEWSNLP_TASK_TIME_LIMIT": "30"},
        {"NEWSNLP_PRELOAD_MODELS": "maybe"},
        {"NEWSNLP_SUMMARIZER": "magic"},
    ],
)
def test_bad_worker_settings_are_errors(env):
    with pytest.raises(ConfigError):
        WorkerSettings.from_env(env)


def test_bool_parsing_is_strict():
    assert env_bool({"X": "yes"}, "X", False) is True
    assert env_bool({"X": "0"}, "X", True) is False
    assert env_bool({}, "X", True) is True
    with pytest.raises(ConfigError, match="X"):
        env_bool({"X": "flase"}, "X", True)


def test_api_settings_from_env():
    config = settings_from_env({"NEWSNLP_MAX_ARTICLE_CHARS": "5000", "NEWSNLP_MAX_CLAIMS": "3"})
    assert config["MAX_ARTICLE_CHARS"] == 5000
    assert config["MAX_CLAIMS"] == 3
    assert config["MAX_CONTENT_LENGTH"] > 5000
    with pytest.raises(ConfigError, match="NEWSNLP_MAX_CLAIMS"):
        settings_from_env({"NEWSNLP_MAX_CLAIMS": "-1"})


def test_app_factory_takes_a_test_config():
    app = create_app({"REDIS_URL": "redis://127.0.0.1:1/0", "MAX_CLAIMS": 2, "TESTING": True})
    assert app.config["MAX_CLAIMS"] == 2
    assert app.config["TESTING"] is True
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert {"/healthz", "/v1/jobs", "/v1/jobs/<string:job_id>"} <= rules


def test_queue_caps_and_key_settings_default_and_parse():
    config = settings_from_env({})
    assert config["MAX_QUEUED_JOBS"] == 10_000
    assert config["MAX_QUEUED_BYTES"] == 256 * 1024 * 1024
    assert config["PROTECT_OPS"] is False
    assert config["AUTH_FAILURES_PER_MINUTE"] == 10
    digest = "0" * 64
    custom = settings_from_env(
        {
            "NEWSNLP_MAX_QUEUED_JOBS": "50",
            "NEWSNLP_MAX_QUEUED_BYTES": "1000000",
            "NEWSNLP_API_KEYS": f"a={digest}",
            "NEWSNLP_PROTECT_OPS": "yes",
            "NEWSNLP_AUTH_FAILURES_PER_MINUTE": "0",
        }
    )
    assert (custom["MAX_QUEUED_JOBS"], custom["MAX_QUEUED_BYTES"]) == (50, 1_000_000)
    assert custom["PROTECT_OPS"] is True
    assert custom["AUTH_FAILURES_PER_MINUTE"] == 0


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"NEWSNLP_MAX_QUEUED_JOBS": "0"}, "NEWSNLP_MAX_QUEUED_JOBS"),
        ({"NEWSNLP_MAX_QUEUED_BYTES": "256MiB"}, "NEWSNLP_MAX_QUEUED_BYTES"),
        ({"NEWSNLP_PROTECT_OPS": "maybe"}, "NEWSNLP_PROTECT_OPS"),
        # Protecting the operations endpoints with no key to ask for is a mistake, not "open".
        ({"NEWSNLP_PROTECT_OPS": "true"}, "NEWSNLP_PROTECT_OPS"),
        ({"NEWSNLP_AUTH_FAILURES_PER_MINUTE": "-1"}, "NEWSNLP_AUTH_FAILURES_PER_MINUTE"),
    ],
)
def test_bad_queue_and_key_settings_are_errors(env, variable):
    with pytest.raises(ConfigError, match=variable):
        settings_from_env(env)


BAD_REDIS_URLS = [
    "redis//127.0.0.1:6379",
    "127.0.0.1:6379",
    "http://127.0.0.1:6379/0",
    "redis://127.0.0.1:port/0",
    "redis://127.0.0.1:99999/0",
    "redis:///0",
    "redis://127.0.0.1:6379/zero",
]


@pytest.mark.parametrize("url", BAD_REDIS_URLS)
def test_a_malformed_redis_url_is_an_error_naming_the_variable(url):
    with pytest.raises(ConfigError, match="^REDIS_URL"):
        settings_from_env({"REDIS_URL": url})
    with pytest.raises(ConfigError, match="^REDIS_URL"):
        WorkerSettings.from_env({"REDIS_URL": url})


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "redis://redis",
        "rediss://:pass@redis.example:6380/2",
        "redis://user:p%40ss@[::1]:6379/1",
        "unix:///run/redis.sock?db=1",
    ],
)
def test_well_formed_redis_urls_pass(url):
    assert settings_from_env({"REDIS_URL": url})["REDIS_URL"] == url
    assert WorkerSettings.from_env({"REDIS_URL": url}).redis_url == url
