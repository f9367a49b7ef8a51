"""The command line on a terminal, as a person sees it: commands run in a pseudo-terminal of 80
columns, and the text they draw is checked — progress bars with percentages, the live speed of
an upload, tables that keep every id whole, a summary at the end."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import re
import struct
import sys
import termios
from pathlib import Path
from typing import Any

import pytest

from aio_move_ugc import AsyncMoveUgc, OutputType, SourceFormat, SourceIn
from aio_move_ugc.bulk import JOURNAL_NAME
from aio_move_ugc.emulator import Emulator
from aio_move_ugc.transfers import TransferConfig
from tests.bulk.test_bulk import make_videos
from tests.cli.test_cli import clean_env
from tests.support import FAST

pytestmark = pytest.mark.slow

COLUMNS = 80
ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][0-9A-B]|\x1b[=>78]")
MIB = 1 << 20
CHUNK = TransferConfig().chunk_size
BIG = 4 * CHUNK
"""The `run` video: four chunks, so the bar is drawn at 25, 50, 75 and 100%."""
BIG_TEXT = f"{BIG / MIB:.1f} MiB"
UPLOAD_FRAME = re.compile(
    rf"\b(\d+)% +(\d+\.\d MiB)/{re.escape(BIG_TEXT)} +([\d.]+ [KMG]?i?B/s|\?/s) +upload big\.mp4"
)
"""A frame of `run`'s bar during the upload: percentage, bytes sent of BIG, live speed."""
JOB_ID = re.compile(r"job-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def screen_text(raw: bytes) -> str:
    """What was drawn, without terminal control sequences; each line as last redrawn."""
    text = ESCAPES.sub("", raw.decode("utf-8", "replace"))
    return "\n".join(line.split("\r")[-1] for line in text.replace("\r\n", "\n").split("\n"))


def every_frame(raw: bytes) -> list[str]:
    """Every line as it was drawn, each redraw of a line included: what a person watching the
    terminal saw go by."""
    text = ESCAPES.sub("", raw.decode("utf-8", "replace"))
    return [line for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if line]


async def run_in_terminal(args: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run the command with a pseudo-terminal of COLUMNS x 24 as stdin, stdout and stderr;
    its exit code and its screen (`screen_text`)."""
    code, raw = await run_in_terminal_raw(args, cwd=cwd, env=env)
    return code, screen_text(raw)


async def run_in_terminal_raw(
    args: list[str], *, cwd: Path, env: dict[str, str]
) -> tuple[int, bytes]:
    """Run the command with a pseudo-terminal of COLUMNS x 24 as stdin, stdout and stderr;
    its exit code and every byte it wrote there."""
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, COLUMNS, 0, 0))
    env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env["TERM"] = "xterm-256color"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aio_move_ugc",
        *args,
        cwd=cwd,
        env=env,
        stdin=child,
        stdout=child,
        stderr=child,
    )
    os.close(child)
    chunks: list[bytes] = []
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def readable() -> None:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the other side closed: everything was read
            chunk = b""
        if chunk:
            chunks.append(chunk)
        else:
            loop.remove_reader(main)
            done.set()

    loop.add_reader(main, readable)
    try:
        code = await asyncio.wait_for(proc.wait(), timeout=120)
        await asyncio.wait_for(done.wait(), timeout=30)
    finally:
        loop.remove_reader(main)
        os.close(main)
    return code, b"".join(chunks)


"""The video `run` uploads: four chunks of the default transfer settings, so the bar is drawn
at 25, 50, 75 and 100% of it (it redraws whenever the whole percentage changes)."""


async def scenario(work: Path) -> dict[str, Any]:
    videos = make_videos(work / "clips", 3)
    (work / "clips" / "README.txt").write_text("notes")
    big = make_videos(work / "big", 1, size=BIG)[0].rename(work / "big" / "big.mp4")
    async with Emulator(FAST) as emu:
        env = clean_env(**emu.environment())
        async with AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url) as ugc:
            file = await ugc.files.upload(videos[0])
            take = await ugc.takes.create_singlecam(
                [SourceIn(device_label="pty", file_id=file.id, format=SourceFormat.MP4)]
            )
            job = await ugc.jobs.create_singlecam(take.id, outputs=[OutputType.MAIN_FBX])
        bulk, run, watch = await asyncio.gather(
            run_in_terminal(["bulk", "clips", "-o", "out", "--interval", "0.1"], cwd=work, env=env),
            run_in_terminal_raw(
                ["run", str(big), "-o", "one", "--interval", "0.1"], cwd=work, env=env
            ),
            run_in_terminal(["watch", job.id, "--interval", "0.05"], cwd=work, env=env),
        )
    journal = (work / "out" / JOURNAL_NAME).read_text().splitlines()
    bulk_jobs = {json.loads(line).get("job_id") for line in journal} - {None}
    return {"bulk": bulk, "run": run, "watch": watch, "bulk_jobs": bulk_jobs, "job": job.id}


def test_bulk_run_and_watch_on_an_80_column_terminal(tmp_path: Path) -> None:
    seen = asyncio.run(scenario(tmp_path))
    code: int
    screen: str
    code, screen = seen["bulk"]
    assert code == 0, screen
    assert "note: skipped 1 file that is not a video (README.txt)" in screen
    # The stage bars, and the summary table with every job id whole.
    assert re.search(r"downloaded .* 3/3", screen), screen
    assert "bulk: 3/3 done" in screen
    summary = screen[screen.index("bulk: 3/3 done") :]
    assert len(seen["bulk_jobs"]) == 3
    for job_id in seen["bulk_jobs"]:
        assert job_id in summary, summary
    assert "…" not in summary
    assert "Traceback" not in screen

    code, raw = seen["run"]
    screen = screen_text(raw)
    assert code == 0, screen
    # While uploading, the bar shows the upload: its percentage, the bytes sent and the live
    # speed. It is redrawn at once at 25, 50, 75 and 100%; from the second sample (50%) on,
    # the speed is known.
    uploading = {
        match.groups()
        for frame in every_frame(raw)
        if (match := UPLOAD_FRAME.search(frame)) is not None
    }
    quarter, half = f"{CHUNK / MIB:.1f} MiB", f"{2 * CHUNK / MIB:.1f} MiB"
    assert ("25", quarter) in {(percent, sent) for percent, sent, _ in uploading}, uploading
    assert [speed for percent, sent, speed in uploading if (percent, sent) == ("50", half)]
    assert all(speed.endswith("B/s") for percent, _, speed in uploading if int(percent) >= 50)
    # Then the step bar with its percentage, the upload's average speed, the outputs table.
    assert "100%" in screen, screen
    uploaded = rf"uploaded big\.mp4: {re.escape(BIG_TEXT)} at [\d.]+ [KMG]?i?B/s"
    assert re.search(uploaded, screen), screen
    ids = JOB_ID.findall(screen)
    assert ids, screen
    assert f"outputs of {ids[-1]}" in screen
    assert "…" not in screen[screen.index("outputs of") :]

    code, screen = seen["watch"]
    assert code == 0, screen
    assert "100%" in screen, screen
    assert f"{seen['job']}: 1 output ready to download" in screen
