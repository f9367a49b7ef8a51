"""`bulk --temporal` refuses the flags only a local run uses (exit 2, one line, before it
connects to anything), and both bulk modes find their inputs with the same discovery."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aio_move_ugc.bulk import discover
from tests.bulk.test_bulk import make_videos

LOCAL_ONLY = {
    "--rate-limit": ["--rate-limit", "100"],
    "--concurrency": ["--concurrency", "4"],
    "--resume": ["--resume"],
    "--journal": ["--journal", "j.jsonl"],
}


@pytest.mark.parametrize("flag", sorted(LOCAL_ONLY))
def test_a_local_only_flag_with_temporal_is_a_usage_error(tmp_path: Path, flag: str) -> None:
    make_videos(tmp_path / "clips", 1)
    done = subprocess.run(
        [
            sys.executable, "-m", "aio_move_ugc", "bulk", str(tmp_path / "clips"),
            "-o", str(tmp_path / "out"), "--temporal", "127.0.0.1:1", *LOCAL_ONLY[flag],
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"MOVE_UGC_API_KEY": "k" * 20, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert f"{flag} does not apply with --temporal" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("suffix", [".mp4", ".MOV", ".avi", ".move"])
def test_discovery_takes_every_video_and_names_the_rest(tmp_path: Path, suffix: str) -> None:
    (video,) = make_videos(tmp_path / "clips", 1)
    renamed = video.rename(video.with_suffix(suffix))
    (tmp_path / "clips" / "README").write_text("notes")
    (tmp_path / "clips" / "cut.txt").write_text("notes")
    for pattern in (str(tmp_path / "clips"), str(tmp_path / "clips" / "*")):
        assert discover(pattern) == (
            [renamed],
            [tmp_path / "clips" / "README", tmp_path / "clips" / "cut.txt"],
        )
