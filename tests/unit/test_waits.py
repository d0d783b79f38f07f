"""The per-process cap on long-polls: a slot a wait, none beyond the limit, freed after."""

from __future__ import annotations

import pytest

from api.settings import settings_from_env
from api.waits import WaitSlots
from jobs.env import ConfigError


def test_slots_are_capped_and_freed():
    slots = WaitSlots(2)
    with slots.slot() as first, slots.slot() as second, slots.slot() as third:
        assert (first, second, third) == (True, True, False)
    with slots.slot() as again:
        assert again  # released on leaving the block, also the refused one's none


def test_a_slot_is_freed_when_the_wait_raises():
    slots = WaitSlots(1)
    with pytest.raises(RuntimeError), slots.slot():
        raise RuntimeError
    with slots.slot() as free:
        assert free


def test_zero_means_no_waits():
    with WaitSlots(0).slot() as may_wait:
        assert not may_wait


def test_the_default_leaves_room_in_a_gunicorn_process():
    from devstack.processes import GUNICORN_SERVER

    connections = int(GUNICORN_SERVER[GUNICORN_SERVER.index("--worker-connections") + 1])
    assert settings_from_env({})["MAX_WAITS"] == 500
    assert settings_from_env({})["MAX_WAITS"] <= connections // 2  # of its gevent connections
    assert settings_from_env({"NEWSNLP_MAX_WAITS": "0"})["MAX_WAITS"] == 0
    with pytest.raises(ConfigError):
        settings_from_env({"NEWSNLP_MAX_WAITS": "-1"})
