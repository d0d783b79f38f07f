"""Where Redis is (jobs.redis_target): REDIS_URL alone exactly as before, or Sentinel."""

from __future__ import annotations

import pytest
import redis
import redis.sentinel

from api.settings import redis_target, settings_from_env
from jobs.broker import celery_config
from jobs.env import ConfigError
from jobs.redis_target import RedisTarget, redis_client, redis_target_from_env
from worker.settings import WorkerSettings

SENTINEL_ENV = {
    "REDIS_URL": "redis://:s3cret@ignored:6379/2",
    "NEWSNLP_REDIS_SENTINELS": "10.0.0.1:26379, sentinel-b:26380",
    "NEWSNLP_REDIS_MASTER": "news",
}


def test_without_sentinels_redis_url_alone_as_before():
    target = redis_target_from_env({"REDIS_URL": "redis://h:1234/3"})
    assert target == RedisTarget(url="redis://h:1234/3")
    assert target.min_replicas == 0
    client = redis_client(target, connect_timeout=2, timeout=5)
    plain = redis.Redis.from_url("redis://h:1234/3", socket_connect_timeout=2, socket_timeout=5)
    keys = ("host", "port", "db", "password", "socket_connect_timeout", "socket_timeout")
    assert type(client.connection_pool) is type(plain.connection_pool)
    for key in keys:
        assert client.connection_pool.connection_kwargs.get(key) == (
            plain.connection_pool.connection_kwargs.get(key)
        )
    config = celery_config(target)
    assert config == celery_config("redis://h:1234/3")
    assert config["broker_url"] == config["result_backend"] == "redis://h:1234/3"
    assert config["broker_transport"] == "jobs.broker_transport:Transport"
    assert "master_name" not in config["broker_transport_options"]


def test_sentinels_for_every_client():
    target = redis_target_from_env(SENTINEL_ENV)
    assert target.sentinels == (("10.0.0.1", 26379), ("sentinel-b", 26380))
    assert target.master == "news" and target.min_replicas == 1
    client = redis_client(target, connect_timeout=2, timeout=5)
    pool = client.connection_pool
    assert isinstance(pool, redis.sentinel.SentinelConnectionPool)
    assert pool.service_name == "news"
    assert pool.connection_kwargs["password"] == "s3cret" and pool.connection_kwargs["db"] == 2
    config = celery_config(target)
    assert config["broker_url"] == (
        "sentinel://:s3cret@10.0.0.1:26379/2;sentinel://:s3cret@sentinel-b:26380/2"
    )
    assert config["result_backend"] == config["broker_url"]
    assert config["broker_transport"] == "jobs.broker_transport:SentinelTransport"
    for options in ("broker_transport_options", "result_backend_transport_options"):
        assert config[options]["master_name"] == "news"


def test_api_and_worker_read_the_same_target():
    assert redis_target(settings_from_env(SENTINEL_ENV)) == redis_target_from_env(SENTINEL_ENV)
    assert WorkerSettings.from_env(SENTINEL_ENV).redis == redis_target_from_env(SENTINEL_ENV)
    explicit = {**SENTINEL_ENV, "NEWSNLP_REDIS_MIN_REPLICAS": "0"}
    assert redis_target_from_env(explicit).min_replicas == 0
    alone = {"NEWSNLP_REDIS_MIN_REPLICAS": "1", "NEWSNLP_REDIS_REPLICA_TIMEOUT_MS": "200"}
    assert redis_target_from_env(alone).min_replicas == 1  # WAIT without Sentinel, too


@pytest.mark.parametrize("bad", ["host", "host:", ":26379", "h:port", "h:70000", "a:1,,b:2"])
def test_malformed_sentinels_are_refused(bad):
    with pytest.raises(ConfigError, match="NEWSNLP_REDIS_SENTINELS"):
        redis_target_from_env({"NEWSNLP_REDIS_SENTINELS": bad})


def test_replica_timeout_stays_below_the_socket_timeout():
    with pytest.raises(ConfigError, match="NEWSNLP_REDIS_REPLICA_TIMEOUT_MS"):
        redis_target_from_env({"NEWSNLP_REDIS_REPLICA_TIMEOUT_MS": "5000"})
