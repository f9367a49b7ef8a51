"""Emulator configurations as files: `to_json`/`from_json`, `emulator --config`, the kit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aio_move_ugc import ConfigurationError
from aio_move_ugc.cli import build_parser, main
from aio_move_ugc.cli._commands import emulator_config as cli_config
from aio_move_ugc.emulator import THROTTLE_ERROR_TYPES, EmulatorConfig, RouteFaults, Variants
from aio_move_ugc.testing import TEST_SETTINGS, EmulatorThread, emulator_config

variants = st.builds(
    Variants,
    output_labels=st.sampled_from(["type", "lower", "extension"]),
    readiness=st.sampled_from(["null_urls", "one_by_one", "all_at_once"]),
    throttling=st.sampled_from(["http429", "appsync200", "http400"]),
    throttle_error_type=st.none() | st.sampled_from(THROTTLE_ERROR_TYPES),
    missing_metadata=st.sampled_from(["mixed", "null", "empty_json"]),
)
seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False)
configs = st.builds(
    EmulatorConfig,
    seed=st.integers(0, 2**31),
    job_queue_delay=seconds,
    job_duration=seconds,
    output_lag=seconds,
    url_ttl=st.floats(min_value=1, max_value=1e6),
    hourly_request_budget=st.none() | st.integers(1, 10_000),
    faults=st.dictionaries(
        st.sampled_from(["graphql", "storage_get"]),
        st.builds(RouteFaults, rate_429=st.floats(0, 0.5), rate_500=st.floats(0, 0.5)),
    ),
    webhook_retry_delays=st.lists(seconds, max_size=4).map(tuple),
    variants=variants,
)


@given(configs)
def test_every_config_reads_back_equal(config: EmulatorConfig) -> None:
    assert EmulatorConfig.from_json(config.to_json()) == config


def test_missing_settings_keep_their_defaults() -> None:
    text = json.dumps({"format": "aio-move-ugc/emulator-config", "version": 1, "seed": 3})
    assert EmulatorConfig.from_json(text) == EmulatorConfig(seed=3)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, "unknown setting.*colour"),
        ({"variants": {"readiness": "one_by_one", "speed": 1}}, "unknown setting.*variants.*speed"),
        ({"faults": {"graphql": {"rate_42": 1}}}, "unknown setting.*faults.graphql.*rate_42"),
        ({"faults": {"ftp": {}}}, "unknown fault routes"),
        ({"version": 2}, "version 2 is not supported"),
        ({"version": None}, "version None is not supported"),
        ({"format": "something else"}, "not an emulator configuration"),
        ({"variants": "fast"}, "variants must be a JSON object"),
        ({"variants": {"readiness": "soon"}}, "readiness must be one of"),
        ({"job_duration": -1}, "job_duration"),
        ({"webhook_retry_delays": 3}, "webhook_retry_delays"),
    ],
)
def test_a_bad_file_is_refused_with_a_clear_error(change: dict[str, object], message: str) -> None:
    values = EmulatorConfig().to_dict() | change
    with pytest.raises(ConfigurationError, match=message):
        EmulatorConfig.from_json(json.dumps(values))


@pytest.mark.parametrize("text", ["", "{", "[]", "null"])
def test_what_is_not_a_config_object_is_refused(text: str) -> None:
    with pytest.raises(ConfigurationError):
        EmulatorConfig.from_json(text)


# ------------------------------------------------------------------ emulator --config
PLAYED = EmulatorConfig(
    job_queue_delay=7.0,
    job_duration=70.0,
    output_lag=9.0,
    url_ttl=900.0,
    variants=Variants(readiness="all_at_once", throttling="http400"),
)


def parsed(*flags: str) -> EmulatorConfig:
    return cli_config(build_parser().parse_args(["emulator", *flags]))


def test_the_emulator_command_starts_from_a_config_file(tmp_path: Path) -> None:
    path = tmp_path / "played.json"
    path.write_text(PLAYED.to_json())
    assert parsed("--config", str(path)) == PLAYED


def test_flags_given_with_a_config_file_change_it(tmp_path: Path) -> None:
    path = tmp_path / "played.json"
    path.write_text(PLAYED.to_json())
    config = parsed("--config", str(path), "--job-duration", "3", "--output-labels", "lower")
    assert config.job_duration == 3.0
    assert config.job_queue_delay == 7.0
    assert config.variants == Variants(
        output_labels="lower", readiness="all_at_once", throttling="http400"
    )
    assert parsed("--config", str(path), "--variant", "metadata-null").variants == Variants(
        missing_metadata="null"
    )


def test_a_bad_config_file_is_one_line_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"format": "aio-move-ugc/emulator-config", "version": 1, "speed": 2}')
    assert main(["emulator", "--port", "0", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "speed" in err
    assert "Traceback" not in err
    assert main(["emulator", "--port", "0", "--config", str(tmp_path / "none.json")]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "Traceback" not in err


# ------------------------------------------------------------------ the testing kit
def test_the_kit_reads_a_config_file_and_applies_settings_over_it(tmp_path: Path) -> None:
    path = tmp_path / "played.json"
    path.write_text(PLAYED.to_json())
    config = emulator_config(from_file=path, **TEST_SETTINGS)
    assert config.variants == PLAYED.variants
    assert config.url_ttl == 900.0
    assert config.job_duration == TEST_SETTINGS["job_duration"]
    with pytest.raises(TypeError, match="not both"):
        emulator_config(EmulatorConfig(), from_file=path)
    with EmulatorThread(EmulatorConfig.from_json(path.read_text())) as emu:
        assert emu.emulator.config == PLAYED
