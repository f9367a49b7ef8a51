"""The `emulator` command's flags: each value checked before anything starts, the rest applied."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import get_args

import aiohttp
import pytest

from aio_move_ugc.cli import build_parser, main
from aio_move_ugc.cli._commands import EMULATOR_VARIANT_AXES, emulator_config
from aio_move_ugc.emulator import (
    VARIANTS,
    EmulatorConfig,
    MissingMetadata,
    OutputLabels,
    Readiness,
    Throttling,
    Variants,
)


def config_of(*flags: str) -> EmulatorConfig:
    return emulator_config(build_parser().parse_args(["emulator", *flags]))


@pytest.mark.parametrize(
    "flags",
    [
        ["--failure-rate", "2"],
        ["--failure-rate", "-0.5"],
        ["--failure-rate", "nan"],
        ["--failure-rate", "NaN"],
        ["--port", "70000"],
        ["--port", "-1"],
        ["--port", "http"],
        ["--port", "9" * 5000],
        ["--rate-limit", "0"],
        ["--rate-limit", "-3"],
        ["--rate-limit", "1.5"],
        ["--queue-delay", "nan"],
        ["--job-duration", "inf"],
        ["--output-lag", "-1"],
        ["--seed", "-1"],
        ["--variant", "unknown"],
        ["--output-labels", "MAIN_FBX"],
        ["--readiness", "soon"],
        ["--throttling", "http418"],
        ["--missing-metadata", "none"],
    ],
)
def test_an_out_of_range_value_is_a_one_line_usage_error(
    flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["emulator", *flags])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert flags[0] in lines[0]
    assert "Traceback" not in captured.err
    assert len(lines[0]) < 400  # a huge value is not echoed back whole


@pytest.mark.parametrize(
    "flags",
    [
        ["--throttling", "gateway503", "--throttle-error-type", "ThrottlingException"],
        ["--throttle-error-type", "Slow"],
        ["--variant", "throttle-appsync200-limit-exceeded", "--throttling", "gateway503"],
    ],
)
def test_flags_that_do_not_go_together_are_a_one_line_usage_error(
    flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["emulator", "--port", "0", *flags]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1, captured.err
    assert "throttle_error_type" in captured.err
    assert "Traceback" not in captured.err


def test_the_defaults_are_the_commands_timings_and_the_default_variant() -> None:
    config = config_of()
    assert (config.job_queue_delay, config.job_duration, config.output_lag) == (2.0, 20.0, 5.0)
    assert (config.failure_rate, config.seed, config.hourly_request_budget) == (0.0, None, None)
    assert config.variants == Variants()


def test_every_flag_reaches_the_config() -> None:
    config = config_of(
        "--seed",
        "7",
        "--queue-delay",
        "0.5",
        "--job-duration",
        "3",
        "--output-lag",
        "0",
        "--failure-rate",
        "0.25",
        "--rate-limit",
        "100",
    )
    assert (config.seed, config.job_queue_delay, config.job_duration) == (7, 0.5, 3.0)
    assert (config.output_lag, config.failure_rate, config.hourly_request_budget) == (
        0.0,
        0.25,
        100,
    )


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_named_variant_can_be_chosen(name: str) -> None:
    assert config_of("--variant", name).variants == VARIANTS[name]


def test_axis_flags_change_single_axes_of_the_named_variant() -> None:
    variants = config_of(
        "--variant",
        "all-unlike-default",
        "--readiness",
        "null_urls",
        "--throttle-error-type",
        "LimitExceededException",
    ).variants
    assert variants == Variants(
        output_labels="extension",
        readiness="null_urls",
        throttling="appsync200",
        throttle_error_type="LimitExceededException",
        missing_metadata="null",
    )


def test_the_axis_flags_offer_exactly_the_emulators_values() -> None:
    assert {
        "output_labels": get_args(OutputLabels),
        "readiness": get_args(Readiness),
        "throttling": get_args(Throttling),
        "missing_metadata": get_args(MissingMetadata),
    } == EMULATOR_VARIANT_AXES


async def test_the_command_serves_the_chosen_variant_and_rate_limit() -> None:
    """A real `aio-move-ugc emulator` process: two requests pass, the third is throttled the
    appsync200 way; SIGTERM stops it cleanly."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aio_move_ugc",
        "emulator",
        "--port",
        "0",
        "--rate-limit",
        "2",
        "--variant",
        "throttle-appsync200",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("MOVE_UGC_")},
    )
    try:
        assert proc.stdout is not None
        env: dict[str, str] = {}
        for _ in range(2):  # `export NAME=value`, as a shell would take them
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            name, _, value = line.removeprefix("export ").strip().partition("=")
            env[name] = value
        url, key = env["MOVE_UGC_ENDPOINT_URL"], env["MOVE_UGC_API_KEY"]
        assert url.startswith("http://127.0.0.1:")
        answers = []
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            for _ in range(3):
                async with session.post(
                    url, json={"query": "{ client { id } }"}, headers={"Authorization": key}
                ) as resp:
                    answers.append((resp.status, await resp.json()))
        assert [status for status, _ in answers] == [200, 200, 200]
        assert all("errors" not in body for _, body in answers[:2])
        assert answers[2][1] == {
            "data": None,
            "errors": [{"errorType": "ThrottlingException", "message": "Rate limit exceeded"}],
        }
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, stderr
    assert b"variant: throttling=appsync200" in stderr
    assert b"Traceback" not in stderr
