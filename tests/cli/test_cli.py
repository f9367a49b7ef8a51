"""The `aio-move-ugc` command as a user meets it: one line on stderr per failure, JSON with --json.

Every command runs in its own interpreter (`python -m aio_move_ugc`), against an emulator that
serves from this process. The commands start together, once per module, so the suite pays for
interpreter start-up once rather than per case; each test then checks one of them.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from aio_move_ugc import AsyncMoveUgc, SourceIn
from aio_move_ugc.bulk import JOURNAL_NAME
from aio_move_ugc.emulator import Emulator
from tests.bulk.test_bulk import make_videos
from tests.support import FAST

UNKNOWN_JOB = "job-00000000-0000-4000-8000-000000000000"


@dataclass
class Outcome:
    args: list[str]
    code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"{self.args} -> {self.code}\nstdout: {self.stdout!r}\nstderr: {self.stderr!r}"


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOVE_UGC_")}
    env.update(extra)
    return env


async def run_cli(args: list[str], *, cwd: Path, env: dict[str, str]) -> Outcome:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aio_move_ugc",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return Outcome(args, proc.returncode, stdout.decode(), stderr.decode())


def cases(work: Path, job_id: str) -> dict[str, list[str]]:
    videos = work / "videos"
    resumable = work / "resumable"
    return {
        # Failures.
        "missing file": ["run", "/nope.mp4", "-o", "x"],
        "short key": ["--api-key", "short", "jobs", "list"],
        "wrong key": ["--api-key", "wrong-key-0123456789", "jobs", "list"],
        "unknown job": ["download", UNKNOWN_JOB, "-o", "x", "--interval", "0.1"],
        "malformed job id": ["watch", "nope"],
        "unreachable": [
            "--max-retries",
            "0",
            "--endpoint-url",
            f"http://127.0.0.1:{closed_port()}/graphql",
            "jobs",
            "list",
        ],
        "bad flag alone": ["bulk", "--nope"],
        "bad flag": ["bulk", str(videos), "-o", "out", "--nope"],
        "journal without --resume": ["bulk", str(videos), "-o", str(resumable)],
        "bulk with a failing input": ["bulk", "odd[", "-o", "odd-out", "--interval", "0.1"],
        # Machine-readable output.
        "jobs list --json": ["--json", "jobs", "list"],
        "watch --json": ["--json", "watch", job_id, "--interval", "0.1"],
        "bulk --json": ["--json", "bulk", str(videos), "-o", "bulk-out", "--interval", "0.1"],
        "download --json": ["--json", "download", job_id, "-o", "dl", "--interval", "0.1"],
    }


async def run_all(work: Path) -> tuple[dict[str, Outcome], dict[str, str]]:
    make_videos(work / "videos", 3)
    # A good video and an empty one whose path reads like rich markup ("[/b]").
    make_videos(work / "odd[", 1)
    (work / "odd[" / "b].mp4").write_bytes(b"")
    (work / "resumable").mkdir()
    (work / "resumable" / JOURNAL_NAME).write_text("")
    async with Emulator(FAST) as emu:
        async with AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url) as ugc:
            video = await ugc.files.upload(work / "videos" / "take-000.mp4")
            take = await ugc.takes.create_singlecam(
                [SourceIn(device_label="cli", file_id=video.id, format="MP4")]
            )
            job = await ugc.jobs.create_singlecam(take.id)
        env = clean_env(**emu.environment())
        todo = cases(work, job.id)
        outcomes = await asyncio.gather(*(run_cli(a, cwd=work, env=env) for a in todo.values()))
        served = {
            kind: emu.storage.read_bytes(emu.state.files[file_id].key).hex()
            for kind, file_id in emu.state.jobs[job.id].output_files.items()
        }
    return dict(zip(todo, outcomes, strict=True)), {"job_id": job.id, "cwd": str(work), **served}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Outcome], dict[str, str]]:
    return asyncio.run(run_all(tmp_path_factory.mktemp("cli")))


FAILURES = {
    "missing file": (1, "no such file: /nope.mp4"),
    "short key": (1, "API key is too short"),
    "wrong key": (1, "not authorized"),
    "unknown job": (1, f"job {UNKNOWN_JOB} not found"),
    "malformed job id": (1, "job id must look like"),
    "unreachable": (1, "could not connect to the API"),
    "bad flag alone": (2, "aio-move-ugc bulk: error:"),
    "bad flag": (2, "unrecognized arguments: --nope"),
    "journal without --resume": (1, "--resume"),
}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_a_failure_is_one_line_on_stderr(
    outcomes: tuple[dict[str, Outcome], dict[str, str]], case: str
) -> None:
    outcome = outcomes[0][case]
    code, expected = FAILURES[case]
    assert outcome.code == code, outcome
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1, outcome
    assert "Traceback" not in outcome.stderr
    assert expected in lines[0], outcome
    assert outcome.stdout == "", outcome


def test_a_wrong_key_says_which_request_failed_and_hides_the_key(
    outcomes: tuple[dict[str, Outcome], dict[str, str]],
) -> None:
    line = outcomes[0]["wrong key"].stderr
    assert "status=401" in line
    assert "operation=ListJobs" in line
    assert "wrong-key-0123456789" not in line


def test_jobs_list_json(outcomes: tuple[dict[str, Outcome], dict[str, str]]) -> None:
    outcome, job_id = outcomes[0]["jobs list --json"], outcomes[1]["job_id"]
    assert outcome.code == 0, outcome
    listing = json.loads(outcome.stdout)
    # Bulk commands run alongside may have added jobs; the one made beforehand is listed.
    assert job_id in [item["id"] for item in listing["items"]]
    for item in listing["items"]:
        assert set(item) == {"id", "state", "created", "name"}
        assert item["id"].startswith("job-")


def test_watch_json_is_one_event_per_line(
    outcomes: tuple[dict[str, Outcome], dict[str, str]],
) -> None:
    outcome, job_id = outcomes[0]["watch --json"], outcomes[1]["job_id"]
    assert outcome.code == 0, outcome
    events = [json.loads(line) for line in outcome.stdout.splitlines()]
    assert {event["job_id"] for event in events} == {job_id}
    assert events[-1]["kind"] == "outputs_ready"
    assert len(events[-1]["outputs"]) == 7
    assert outcome.stderr == ""


def test_bulk_json(outcomes: tuple[dict[str, Outcome], dict[str, str]]) -> None:
    outcome = outcomes[0]["bulk --json"]
    assert outcome.code == 0, outcome
    summary = json.loads(outcome.stdout)
    assert summary["failed"] == 0
    assert len(summary["results"]) == 3
    for row in summary["results"]:
        assert row["ok"] is True
        assert row["skipped"] is False
        assert row["error"] is None
        assert len(row["outputs"]) == 7


def test_download_json_and_bytes(outcomes: tuple[dict[str, Outcome], dict[str, str]]) -> None:
    outcome, served = outcomes[0]["download --json"], outcomes[1]
    assert outcome.code == 0, outcome
    result = json.loads(outcome.stdout)
    assert result["job_id"] == served["job_id"]
    assert set(result["outputs"]) == set(served) - {"job_id", "cwd"}
    for kind, path in result["outputs"].items():
        assert Path(served["cwd"], path).read_bytes().hex() == served[kind]


def test_bulk_with_a_failing_input_shows_the_table_and_one_error_line(
    outcomes: tuple[dict[str, Outcome], dict[str, str]],
) -> None:
    outcome = outcomes[0]["bulk with a failing input"]
    assert outcome.code == 1, outcome
    assert outcome.stderr.splitlines() == ["error: 1 of 2 inputs failed"], outcome
    assert "bulk: 1/2 done" in outcome.stdout
    assert "b].mp4" in outcome.stdout  # printed as it is, not taken for markup
    assert "is empty" in outcome.stdout
