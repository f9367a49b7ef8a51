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


async def run_cli(
    args: list[str], *, cwd: Path, env: dict[str, str], reader_gone: bool = False
) -> Outcome:
    """Run the command; with `reader_gone`, its stdout is a pipe whose reader has already
    closed it (`aio-move-ugc ... | head` once head has read enough)."""
    closed = None
    if reader_gone:
        reader, closed = os.pipe()
        os.close(reader)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aio_move_ugc",
        *args,
        cwd=cwd,
        env=env,
        stdout=closed if closed is not None else asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    if closed is not None:
        os.close(closed)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return Outcome(args, proc.returncode, (stdout or b"").decode(), stderr.decode())


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
        "watch --outputs unknown type": ["watch", job_id, "--outputs", "MAIN_NOPE"],
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
        "watch --outputs": [
            *("--json", "watch", job_id, "--interval", "0.1", "--outputs", "MAIN_FBX"),
        ],
        "bulk --json": ["--json", "bulk", str(videos), "-o", "bulk-out", "--interval", "0.1"],
        "download --json": ["--json", "download", job_id, "-o", "dl", "--interval", "0.1"],
    }


LOG_SPELLINGS = ("warning", "WARN", "1", "DEBUG", "true", "off")
"""Values of MOVE_UGC_LOG a user of `logging` may type; each must let the command run."""
READER_GONE = (["jobs", "list"], ["--json", "jobs", "list"], ["--help"])


def at_80_columns(job_id: str) -> dict[str, list[str]]:
    """Commands whose tables are wider than 80 columns when boxed (long ids and paths)."""
    return {
        "download": ["download", job_id, "-o", "downloaded", "--interval", "0.1"],
        "jobs list": ["jobs", "list"],
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
        outcomes = await asyncio.gather(
            *(run_cli(a, cwd=work, env=env) for a in todo.values()),
            *(
                run_cli(["jobs", "list"], cwd=work, env={**env, "MOVE_UGC_LOG": level})
                for level in LOG_SPELLINGS
            ),
            *(
                run_cli(a, cwd=work, env={**env, "COLUMNS": "80"})
                for a in at_80_columns(job.id).values()
            ),
            *(run_cli(a, cwd=work, env=env, reader_gone=True) for a in READER_GONE),
        )
        names = [
            *todo,
            *(f"MOVE_UGC_LOG={level}" for level in LOG_SPELLINGS),
            *(f"{name} at 80 columns" for name in at_80_columns(job.id)),
            *(f"reader gone: {' '.join(a)}" for a in READER_GONE),
        ]
        served = {
            kind: emu.storage.read_bytes(emu.state.files[file_id].key).hex()
            for kind, file_id in emu.state.jobs[job.id].output_files.items()
        }
    return dict(zip(names, outcomes, strict=True)), {"job_id": job.id, "cwd": str(work), **served}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Outcome], dict[str, str]]:
    return asyncio.run(run_all(tmp_path_factory.mktemp("cli")))


FAILURES = {
    "missing file": (1, "no such file: /nope.mp4"),
    "short key": (1, "API key is too short"),
    "wrong key": (1, "not authorized"),
    "unknown job": (1, f"job {UNKNOWN_JOB} not found"),
    "malformed job id": (1, "job id must look like"),
    "watch --outputs unknown type": (1, "MAIN_NOPE"),
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


def test_watch_waits_for_the_outputs_it_is_told_of(
    outcomes: tuple[dict[str, Outcome], dict[str, str]],
) -> None:
    outcome = outcomes[0]["watch --outputs"]
    assert outcome.code == 0, outcome
    kinds = [json.loads(line)["kind"] for line in outcome.stdout.splitlines()]
    assert kinds[-1] == "outputs_ready"


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


def test_bulk_json_is_one_line_per_input_and_a_summary(
    outcomes: tuple[dict[str, Outcome], dict[str, str]],
) -> None:
    outcome = outcomes[0]["bulk --json"]
    assert outcome.code == 0, outcome
    *rows, last = [json.loads(line) for line in outcome.stdout.splitlines()]
    assert last == {"summary": {"inputs": 3, "failed": 0, "skipped_files": []}}
    assert len(rows) == 3
    assert len({row["video"] for row in rows}) == 3
    for row in rows:
        # The fields `bulk --temporal --json` prints for each input.
        assert set(row) == {
            "video", "ok", "skipped", "key", "take_id", "job_id", "outputs", "error"
        }  # fmt: skip
        assert row["ok"] is True
        assert row["skipped"] is False
        assert row["error"] is None
        assert row["job_id"].startswith("job-")
        assert len(row["outputs"]) == 7


@pytest.mark.parametrize("level", LOG_SPELLINGS)
def test_log_levels_as_logging_users_spell_them(
    outcomes: tuple[dict[str, Outcome], dict[str, str]], level: str
) -> None:
    outcome = outcomes[0][f"MOVE_UGC_LOG={level}"]
    assert outcome.code == 0, outcome
    assert outcome.stdout.startswith("jobs ("), outcome
    logged = "INFO aio_move_ugc.transport: ListJobs" in outcome.stderr
    assert logged == (level.lower() in ("1", "true", "debug")), outcome


@pytest.mark.parametrize("name", ["download", "jobs list"])
def test_tables_fit_80_columns_and_keep_ids_whole(
    outcomes: tuple[dict[str, Outcome], dict[str, str]], name: str
) -> None:
    outcome, job_id = outcomes[0][f"{name} at 80 columns"], outcomes[1]["job_id"]
    assert outcome.code == 0, outcome
    lines = outcome.stdout.splitlines()
    assert any(job_id in line for line in lines), outcome
    assert "…" not in outcome.stdout
    for line in lines:
        # A line of a table (a border, or cells between bars) is never wider than the
        # terminal; a value alone on its line (a long path) is left for the terminal to wrap.
        if any(bar in line for bar in "│┃━─"):
            assert len(line) <= 80, line
    if name == "download":
        paths = [line.split()[-1] for line in lines if "downloaded/" in line]
        assert len(paths) == 7, outcome
        assert all(Path(outcomes[1]["cwd"], p).is_file() for p in paths)


@pytest.mark.parametrize("args", READER_GONE, ids=" ".join)
def test_a_reader_that_went_away_ends_the_command_quietly(
    outcomes: tuple[dict[str, Outcome], dict[str, str]], args: list[str]
) -> None:
    outcome = outcomes[0][f"reader gone: {' '.join(args)}"]
    assert outcome.stderr == "", outcome
    # As a shell reports a command its reader left (128 + SIGPIPE); help ends as argparse does.
    assert outcome.code == (0 if args == ["--help"] else 141), outcome


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
