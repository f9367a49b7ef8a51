"""`aio_move_ugc.testing`'s helpers on their own: settings from plain values, the thread server."""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest
import requests

from aio_move_ugc.emulator import EmulatorConfig, RouteFaults
from aio_move_ugc.testing import TEST_SETTINGS, EmulatorThread, emulator_config


def test_settings_from_plain_values() -> None:
    config = emulator_config(job_duration=0.1, faults={"graphql": {"rate_503": 0.5}})
    assert config.job_duration == 0.1
    assert config.faults == {"graphql": RouteFaults(rate_503=0.5)}
    assert emulator_config(config, seed=3).job_duration == 0.1  # a base keeps its settings


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"job_durations": 1.0}, "unknown emulator setting(s) job_durations"),
        ({"faults": {"graphql": {"rate_999": 1.0}}}, "faults['graphql']"),
        ({"faults": {"graphql": 0.5}}, "must be a RouteFaults"),
        ({"faults": [("graphql", RouteFaults())]}, "faults must map"),
    ],
)
def test_bad_settings_name_what_is_wrong(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=re.escape(message)):
        emulator_config(**settings)


def test_the_fixtures_quick_settings_are_valid() -> None:
    config = emulator_config(**TEST_SETTINGS)
    assert config.job_queue_delay + config.job_duration + config.output_lag < 0.5


def _client_name(emu: EmulatorThread) -> str:
    answer = requests.post(
        emu.endpoint_url,
        json={"query": "{ client { name } }"},
        headers={"Authorization": emu.api_key},
        timeout=10,
    )
    name: str = answer.json()["data"]["client"]["name"]
    return name


def test_thread_serves_changes_and_stops() -> None:
    emu = EmulatorThread(EmulatorConfig(client_name="Thread studio"))
    with pytest.raises(RuntimeError, match="not running"):
        emu.advance(1)
    with emu:
        assert emu.running
        assert _client_name(emu) == "Thread studio"
        assert emu.environment() == {
            "MOVE_UGC_API_KEY": emu.api_key,
            "MOVE_UGC_ENDPOINT_URL": emu.endpoint_url,
        }
        before = emu.call(emu.emulator.clock.now)
        emu.advance(120)
        assert emu.call(emu.emulator.clock.now) - before >= 120
        emu.set_faults("graphql", {"rate_500": 1.0})
        status = requests.post(emu.endpoint_url, json={"query": "{ client { id } }"}, timeout=10)
        assert status.status_code == 500
        emu.set_faults("graphql", None)
        assert _client_name(emu) == "Thread studio"
        assert emu.stats()["faults"] == {"graphql 500": 1}
        with pytest.raises(RuntimeError, match="already started"):
            emu.start()
    assert not emu.running
    emu.stop()  # again: nothing to do
    with pytest.raises(requests.ConnectionError):
        requests.post(emu.endpoint_url, json={"query": "{ client { id } }"}, timeout=10)


def test_thread_fails_and_heals_one_record() -> None:
    with EmulatorThread() as emu:
        emu.fail_record("job-1", {"field": "outputs", "times": 2})
        fault = emu.call(emu.emulator.api.record_faults.get, "job-1")
        assert (fault.field, fault.times, fault.error_type) == ("outputs", 2, "Lambda:Unhandled")
        with pytest.raises(TypeError, match="fault"):
            emu.fail_record("job-1", {"nope": 1})
        emu.fail_record("job-1", None)
        assert emu.call(emu.emulator.api.record_faults.get, "job-1") is None


def test_a_thread_that_cannot_start_says_why() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        emu = EmulatorThread(port=port)
        with pytest.raises(RuntimeError, match="failed to start"):
            emu.start()
    assert not emu.running
