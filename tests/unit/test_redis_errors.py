"""Redis unreachable or full is one class of error (jobs.redis_errors), which the broker
transport treats as a lost connection, not as a reason for the worker to stop."""

from __future__ import annotations

import kombu.exceptions
import pytest
import redis
from kombu.transport import redis as kombu_redis

from jobs import broker_transport
from jobs.broker import celery_config, create_celery
from jobs.redis_errors import is_out_of_memory, is_unavailable

SCRIPT_OOM = (
    "Error running script (call to f_abc): @user_script:1: @user_script: 1: "
    "-OOM command not allowed when used memory > 'maxmemory'."
)


@pytest.mark.parametrize(
    "error",
    [
        redis.exceptions.ConnectionError("refused"),
        redis.exceptions.TimeoutError("slow"),
        redis.exceptions.OutOfMemoryError("command not allowed when used memory > 'maxmemory'."),
        redis.exceptions.ResponseError(SCRIPT_OOM),  # from inside a Lua script
        kombu.exceptions.OperationalError("publish gave up"),
    ],
)
def test_unreachable_or_full_is_unavailable(error):
    assert is_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        redis.exceptions.ResponseError("WRONGTYPE Operation against a key"),
        redis.exceptions.DataError("bad value"),
        ValueError("not redis"),
    ],
)
def test_a_wrong_call_is_not_unavailable(error):
    assert not is_unavailable(error)
    assert not is_out_of_memory(error)


def test_the_celery_apps_use_the_transport_that_survives_a_full_redis():
    app = create_celery("t", celery_config("redis://127.0.0.1:1/0"))
    connection = app.connection_for_write()
    assert isinstance(connection.transport, broker_transport.Transport)
    assert redis.exceptions.OutOfMemoryError in connection.connection_errors
    assert (connection.hostname, connection.port) == ("127.0.0.1", 1)


def test_a_taken_message_waits_for_redis_to_take_its_unacked_copy(monkeypatch):
    calls = []

    def append(self, message, delivery_tag):
        calls.append(delivery_tag)
        if len(calls) < 3:
            raise redis.exceptions.OutOfMemoryError("full")

    monkeypatch.setattr(kombu_redis.QoS, "append", append)
    monkeypatch.setattr(broker_transport.time, "sleep", lambda _: None)
    qos = object.__new__(broker_transport.QoS)
    qos.append(object(), "tag")
    assert calls == ["tag"] * 3


def test_another_error_of_the_unacked_copy_is_raised(monkeypatch):
    def append(self, message, delivery_tag):
        raise redis.exceptions.ResponseError("WRONGTYPE")

    monkeypatch.setattr(kombu_redis.QoS, "append", append)
    with pytest.raises(redis.exceptions.ResponseError):
        object.__new__(broker_transport.QoS).append(object(), "tag")


def test_handing_back_on_a_released_connection_does_not_stop_the_worker(monkeypatch):
    def restore_unacked(self, client=None):
        raise AttributeError("'NoneType' object has no attribute 'hostname'")

    monkeypatch.setattr(kombu_redis.QoS, "restore_unacked", restore_unacked)
    object.__new__(broker_transport.QoS).restore_unacked()  # logged, not raised


def test_an_ack_on_a_released_connection_does_not_stop_the_worker(monkeypatch):
    def ack(self, delivery_tag):
        raise AttributeError("'NoneType' object has no attribute 'client'")

    monkeypatch.setattr(kombu_redis.QoS, "ack", ack)
    object.__new__(broker_transport.QoS).ack("tag")  # logged, not raised


def test_a_requeue_on_a_released_connection_does_not_stop_the_worker(monkeypatch):
    def reject(self, delivery_tag, requeue=False):
        raise AttributeError("'NoneType' object has no attribute 'client'")

    monkeypatch.setattr(kombu_redis.QoS, "reject", reject)
    object.__new__(broker_transport.QoS).reject("tag", requeue=True)  # logged, not raised
