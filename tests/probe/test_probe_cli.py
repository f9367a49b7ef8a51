"""The `probe` command: what it says before it starts, when it asks, what it writes."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from aio_move_ugc.cli import main
from aio_move_ugc.emulator import EmulatorConfig, Variants
from aio_move_ugc.testing import TEST_SETTINGS, EmulatorThread, emulator_config

KEY = "a-users-own-secret-key-4242"


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    config = emulator_config(
        api_key=KEY, variants=Variants(missing_metadata="empty_json"), **TEST_SETTINGS
    )
    with EmulatorThread(config) as running:
        yield running


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\0" * 4096)
    return path


def flags(emu: EmulatorThread) -> list[str]:
    return ["--api-key", KEY, "--endpoint-url", emu.endpoint_url]


class Terminal(io.StringIO):
    """A standard input that is a terminal, with the user's answer in it."""

    def isatty(self) -> bool:
        return True


def test_the_report_and_the_config_are_written_and_hold_no_key(
    emu: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    md, js, cfg = tmp_path / "r.md", tmp_path / "r.json", tmp_path / "c.json"
    args = ["probe", *flags(emu), "--report", str(md), "--emulator-config", str(cfg)]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "at most 50 GraphQL requests" in err
    assert "| Metadata never given (`missing_metadata`) |" in out
    assert md.read_text() == out
    assert EmulatorConfig.from_json(cfg.read_text()).variants == Variants(
        missing_metadata="empty_json"
    )
    assert main(["--json", "probe", *flags(emu), "--report", str(js)]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["variants"]["missing_metadata"] == "empty_json"
    assert report["requests"] <= 50
    assert json.loads(js.read_text())["findings"] == report["findings"]
    for text in (out, err, md.read_text(), js.read_text(), cfg.read_text()):
        assert KEY not in text


def test_with_job_and_no_terminal_refuses_without_yes(
    emu: EmulatorThread, video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["probe", *flags(emu), "--with-job", str(video)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "--yes" in err
    assert emu.stats()["graphql_requests"] == 0


@pytest.mark.parametrize("answer", ["", "n\n", "no\n", "later\n"])
def test_with_job_sends_nothing_unless_the_user_says_yes(
    emu: EmulatorThread,
    video: Path,
    answer: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", Terminal(answer))
    assert main(["probe", *flags(emu), "--with-job", str(video)]) == 1
    err = capsys.readouterr().err
    assert "ONE JOB" in err
    assert "nothing was sent" in err
    assert emu.stats()["graphql_requests"] == 0


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--read-only", "--with-job", "VIDEO"], 2),
        (["--budget", "0"], 2),
        (["--budget", "501"], 2),
        (["--budget", "many"], 2),
        (["--with-job", "/no/such.mp4", "--yes"], 1),
        (["--with-job", "VIDEO", "--yes", "--budget", "10"], 1),
    ],
)
def test_bad_arguments_are_one_line_before_anything_is_sent(
    emu: EmulatorThread,
    video: Path,
    args: list[str],
    code: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = [str(video) if a == "VIDEO" else a for a in args]
    try:
        returned = main(["probe", *flags(emu), *args])
    except SystemExit as exc:  # argparse's own usage errors
        returned = exc.code  # type: ignore[assignment]
    assert returned == code
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    assert emu.stats()["graphql_requests"] == 0


@pytest.mark.slow
def test_with_job_and_yes_spends_exactly_one_job_in_real_time(
    emu: EmulatorThread, video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.json"
    args = ["--json", "probe", *flags(emu), "--with-job", str(video), "--yes"]
    assert main([*args, "--emulator-config", str(cfg)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["with_job"] is True
    assert emu.stats()["operations"]["ProbeCreateJob"] == 1
    assert report["findings"][0]["match"] == "type"
    assert report["requests"] == emu.stats()["graphql_requests"] <= 50


def test_a_written_config_plays_back_as_the_same_report(
    emu: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.json"
    assert main(["--json", "probe", *flags(emu), "--emulator-config", str(cfg)]) == 0
    first = json.loads(capsys.readouterr().out)
    played = EmulatorConfig.from_json(cfg.read_text())
    with EmulatorThread(played) as again:
        args = ["--api-key", played.api_key, "--endpoint-url", again.endpoint_url]
        assert main(["--json", "probe", *args]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["variants"] == first["variants"]
    assert second["findings"] == first["findings"]
