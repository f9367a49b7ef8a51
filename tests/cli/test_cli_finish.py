"""The command line's finish, as a user meets it: --version, global flags on either side of the
command, -v request logs, help that states defaults, words of the command line in errors, usage
errors for values out of range, whole tables, paging, resumable `run`, `bulk --retry-failed`.

Commands run in their own interpreters against an emulator served from this process; where
time matters, the emulator's clock is moved by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest

from aio_move_ugc import AsyncMoveUgc, OutputType, SourceFormat, SourceIn, __version__
from aio_move_ugc.bulk import JOURNAL_NAME
from aio_move_ugc.cli import HelpFormatter, build_parser, in_cli_words
from aio_move_ugc.emulator import Emulator, EmulatorConfig
from tests.bulk.test_bulk import make_videos
from tests.cli.test_cli import Outcome, clean_env, run_cli
from tests.support import FAST

JOB_ID = re.compile(r"job-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
Outcomes = tuple[dict[str, Outcome], dict[str, Any]]


async def make_jobs(emu: Emulator, work: Path, count: int) -> list[str]:
    videos = make_videos(work / "made", count)
    jobs = []
    async with AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url) as ugc:
        for video in videos:
            file = await ugc.files.upload(video)
            take = await ugc.takes.create_singlecam(
                [SourceIn(device_label="cli", file_id=file.id, format=SourceFormat.MP4)]
            )
            job = await ugc.jobs.create_singlecam(take.id, outputs=[OutputType.MAIN_FBX])
            jobs.append(job.id)
    return jobs


def cases(work: Path, emu: Emulator, jobs: list[str]) -> dict[str, list[str]]:
    mixed = work / "mixed"
    return {
        "version": ["--version"],
        "json after": ["jobs", "list", "--json", "--limit", "1"],
        "key after": ["jobs", "list", "--api-key", "short"],
        "both sides": ["--json", "watch", jobs[0], "--until", "terminal", "--max-retries", "0"],
        "-v": ["jobs", "list", "-v", "--limit", "1"],
        "-vv": ["-vv", "jobs", "list", "--limit", "1"],
        "-v both sides": ["-v", "jobs", "list", "-v", "--limit", "1"],
        "404": ["--endpoint-url", emu.url + "/", "--max-retries", "0", "jobs", "list"],
        "max retries too many": ["--max-retries", "99", "jobs", "list"],
        "max retries negative": ["jobs", "list", "--max-retries", "-1"],
        "limit zero": ["jobs", "list", "--limit", "0"],
        "concurrency zero": ["bulk", str(mixed), "-o", "x", "--concurrency", "0"],
        "interval nan": ["watch", jobs[0], "--interval", "nan"],
        "table at 40 columns": ["jobs", "list"],
        "bulk skips non-videos": ["bulk", str(mixed / "*"), "-o", "mixed-out", "--interval", "0.1"],
    }


async def run_all(work: Path) -> Outcomes:
    make_videos(work / "mixed", 1)[0].rename(work / "mixed" / "a.mp4")
    (work / "mixed" / "notes.txt").write_text("not a video")
    async with Emulator(FAST) as emu:
        jobs = await make_jobs(emu, work, 3)
        env = clean_env(**emu.environment(), COLUMNS="40")
        todo = cases(work, emu, jobs)
        outcomes = await asyncio.gather(*(run_cli(a, cwd=work, env=env) for a in todo.values()))
        found = dict(zip(todo, outcomes, strict=True))
        # With the jobs all made (bulk's as well), one after the other:
        for name, args in {
            "page 1": ["--json", "jobs", "list", "--limit", "2"],
            "all": ["--json", "jobs", "list", "--all", "--limit", "2"],
        }.items():
            found[name] = await run_cli(args, cwd=work, env=env)
        token = json.loads(found["page 1"].stdout)["next_token"]
        found["page 2"] = await run_cli(
            ["--json", "jobs", "list", "--limit", "2", "--next-token", token], cwd=work, env=env
        )
        before = emu.stats.root_fields["createFile"], emu.stats.storage_count("PUT")
        found["run -o is a file"] = await run_cli(
            ["run", str(work / "mixed" / "a.mp4"), "-o", str(work / "mixed" / "notes.txt")],
            cwd=work,
            env=env,
        )
        after = emu.stats.root_fields["createFile"], emu.stats.storage_count("PUT")
    return found, {"jobs": jobs, "uploads": (before, after), "key": emu.api_key}


@pytest.fixture(scope="module")
def outcomes(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, Outcome], dict[str, object]]:
    return asyncio.run(run_all(tmp_path_factory.mktemp("cli-finish")))


def test_version(outcomes: Outcomes) -> None:
    outcome = outcomes[0]["version"]
    assert outcome.code == 0, outcome
    assert outcome.stdout.strip() == f"aio-move-ugc {__version__}"


def test_global_flags_after_the_command(outcomes: Outcomes) -> None:
    found, facts = outcomes
    listing = json.loads(found["json after"].stdout)
    assert len(listing["items"]) == 1
    assert found["key after"].code == 1
    assert "API key is too short" in found["key after"].stderr
    both = found["both sides"]
    assert both.code == 0, both
    events = [json.loads(line) for line in both.stdout.splitlines()]
    assert {e["job_id"] for e in events} == {facts["jobs"][0]}


def test_verbose_logs_each_request_without_the_key(outcomes: Outcomes) -> None:
    found, facts = outcomes
    info, debug = found["-v"], found["-vv"]
    assert info.code == debug.code == 0
    (line,) = [line for line in info.stderr.splitlines() if "ListJobs" in line]
    assert re.search(r"INFO aio_move_ugc.transport: ListJobs try 1 -> 200 in \d+ ms", line), line
    assert re.search(r"\(request id [0-9a-f-]{36}\)", line), line
    assert "DEBUG" not in info.stderr
    assert "DEBUG aio_move_ugc.transport: sending ListJobs" in debug.stderr
    for outcome in (info, debug):
        assert str(facts["key"]) not in outcome.stderr + outcome.stdout


def test_v_before_and_after_the_command_add_up(outcomes: Outcomes) -> None:
    outcome = outcomes[0]["-v both sides"]
    assert outcome.code == 0, outcome
    assert "DEBUG aio_move_ugc.transport: sending ListJobs" in outcome.stderr


@pytest.mark.parametrize(
    ("args", "verbose"),
    [
        (["jobs", "list"], 0),
        (["-v", "jobs", "list"], 1),
        (["jobs", "list", "-v"], 1),
        (["-v", "jobs", "list", "-v"], 2),
        (["-v", "jobs", "-v", "list", "-v"], 3),
        (["--verbose", "run", "a.mp4", "-o", "out", "-vv"], 3),
        (["-vv", "bulk", "clips", "-o", "out", "--verbose"], 3),
    ],
)
def test_v_counts_on_both_sides_of_the_command(args: list[str], verbose: int) -> None:
    parsed = build_parser().parse_args(args)
    assert parsed.verbose == verbose
    assert sorted(k for k in vars(parsed) if "verbose" in k) == ["verbose"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--max-retries", "2", "jobs", "list"], {"max_retries": 2}),
        (["--max-retries", "2", "jobs", "list", "--max-retries", "5"], {"max_retries": 5}),
        (["jobs", "list"], {"max_retries": 3, "json": False, "api_key": None}),
        (["--json", "jobs", "list"], {"json": True}),
        (["jobs", "list", "--json"], {"json": True}),
        (["--api-key", "before-key", "jobs", "list"], {"api_key": "before-key"}),
        (["--api-key", "a-key", "jobs", "list", "--api-key", "b-key"], {"api_key": "b-key"}),
        (["--endpoint-url", "http://a/graphql", "jobs", "-v", "list"], {"verbose": 1}),
    ],
)
def test_other_global_flags_take_the_value_given_last(
    args: list[str], expected: dict[str, object]
) -> None:
    parsed = vars(build_parser().parse_args(args))
    assert {k: parsed[k] for k in expected} == expected


def test_an_endpoint_that_answers_404_gets_a_hint(outcomes: Outcomes) -> None:
    outcome = outcomes[0]["404"]
    assert outcome.code == 1, outcome
    (line,) = outcome.stderr.splitlines()
    assert "status=404" in line
    assert "--endpoint-url must be the GraphQL endpoint itself, usually ending in /graphql" in line


USAGE = {
    "max retries too many": "argument --max-retries: must be from 0 to 20, not 99",
    "max retries negative": "argument --max-retries: must be from 0 to 20, not -1",
    "limit zero": "argument --limit: must be at least 1",
    "concurrency zero": "argument --concurrency: must be from 1 to 256, not 0",
    "interval nan": "argument --interval: must be a positive, finite number of seconds",
}


@pytest.mark.parametrize("case", sorted(USAGE))
def test_out_of_range_values_are_usage_errors(outcomes: Outcomes, case: str) -> None:
    outcome = outcomes[0][case]
    assert outcome.code == 2, outcome
    (line,) = outcome.stderr.splitlines()
    assert USAGE[case] in line
    assert "Traceback" not in outcome.stderr
    assert outcome.stdout == ""


def test_errors_speak_of_flags() -> None:
    assert (
        in_cli_words("no API key: pass api_key=... or set the MOVE_UGC_API_KEY variable")
        == "no API key: pass --api-key or set the MOVE_UGC_API_KEY variable"
    )
    assert in_cli_words("max_retries must be at least 0") == "--max-retries must be at least 0"
    assert in_cli_words("dest x cannot be a directory") == "--output x cannot be a directory"
    assert in_cli_words("limit must be an integer") == "--limit must be an integer"
    assert in_cli_words("none of the outputs is ready") == "none of the outputs is ready"
    assert in_cli_words("dest_dir x cannot be a directory") == "-o/--output x cannot be a directory"
    # Advice to pass an argument the command line has no flag for is left out.
    assert (
        in_cli_words("cannot tell the file type of 'a.txt' (known: .mp4); pass type=\"mp4\"")
        == "cannot tell the file type of 'a.txt' (known: .mp4)"
    )
    # Environment variables and flags already in the command line's words are left alone.
    assert in_cli_words("--rate-limit and MOVE_UGC_API_KEY") == "--rate-limit and MOVE_UGC_API_KEY"


def test_no_api_key_names_the_flag(tmp_path: Path) -> None:
    outcome = asyncio.run(run_cli(["jobs", "list"], cwd=tmp_path, env=clean_env()))
    assert outcome.code == 1
    (line,) = outcome.stderr.splitlines()
    assert "pass --api-key or set the MOVE_UGC_API_KEY" in line
    assert "api_key" not in line


def test_pages_and_all(outcomes: Outcomes) -> None:
    found, facts = outcomes
    first, second = (json.loads(found[p].stdout) for p in ("page 1", "page 2"))
    everything = json.loads(found["all"].stdout)
    assert first["next_token"]
    assert len(first["items"]) == len(second["items"]) == 2
    paged = [i["id"] for i in first["items"] + second["items"]]
    assert len(set(paged)) == 4
    listed = [i["id"] for i in everything["items"]]
    assert everything["next_token"] is None
    assert len(listed) == len(set(listed)) >= 4  # the three made, and bulk's
    assert set(facts["jobs"]) <= set(listed)
    assert set(paged) <= set(listed)


def test_a_narrow_table_keeps_ids_whole(outcomes: Outcomes) -> None:
    found, facts = outcomes
    outcome = found["table at 40 columns"]
    assert outcome.code == 0, outcome
    for job_id in facts["jobs"]:
        assert job_id in outcome.stdout
    assert "…" not in outcome.stdout


def test_run_checks_its_output_directory_before_uploading(outcomes: Outcomes) -> None:
    found, facts = outcomes
    outcome = found["run -o is a file"]
    assert outcome.code == 1, outcome
    (line,) = outcome.stderr.splitlines()
    assert "notes.txt cannot be a directory" in line
    assert line.startswith("error: -o/--output ")
    before, after = facts["uploads"]
    assert before == after, "nothing was created or uploaded"


def test_bulk_skips_what_is_not_a_video_with_a_note(outcomes: Outcomes) -> None:
    outcome = outcomes[0]["bulk skips non-videos"]
    assert outcome.code == 0, outcome
    assert "note: skipped 1 file that is not a video (notes.txt)" in outcome.stderr
    assert "bulk: 1/1 done" in outcome.stdout


def walk(
    parser: argparse.ArgumentParser, path: str = ""
) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in getattr(parser, "subcommand_actions", []):
        for name, sub in action.choices.items():
            found += walk(sub, f"{path} {name}".strip())
    return found


def _said(action: argparse.Action) -> str:
    """An option's help as --help prints it (the formatter adds defaults it does not say)."""
    said = HelpFormatter("x")._get_help_string(action) or ""
    return said % {"default": action.default}


def test_every_command_and_flag_has_help_with_its_default() -> None:
    parsers = walk(build_parser())
    every = {p for p, _ in parsers}
    assert every >= {"", "demo", "run", "bulk", "watch", "download", "jobs list", "emulator"}
    assert "worker" in every
    missing = []
    for path, parser in parsers:
        text = parser.format_help()
        for action in parser._get_optional_actions() + parser._get_positional_actions():
            where = f"{path or 'aio-move-ugc'}: {'/'.join(action.option_strings) or action.dest}"
            if action.dest in ("help", "version") or action.help == argparse.SUPPRESS:
                continue
            if isinstance(action, argparse._SubParsersAction):
                for listed in action._choices_actions:
                    if not listed.help:
                        missing.append(f"{where} {listed.dest}: no help")
                continue
            if not action.help:
                missing.append(f"{where}: no help")
            # A flag that takes a value, and may be left out, says what it is when left out.
            takes_value = action.nargs != 0 and not action.required and action.option_strings
            if takes_value and "default" not in _said(action):
                missing.append(f"{where}: no default said")
        assert "--json" in text, path
        assert "--verbose" in text, path
    assert not missing, "\n".join(missing)
    run_help = dict(parsers)["run"].format_help()
    for kind in OutputType:
        assert kind.value in " ".join(run_help.split()).replace("- ", "-").replace(" ", ""), kind
    assert "(default: 5.0)" in " ".join(run_help.split())
    assert "seconds" in run_help


API_FLAGS = ("--api-key", "--endpoint-url", "--max-retries")


@pytest.mark.parametrize(("command", "unused"), [("demo", API_FLAGS), ("emulator", API_FLAGS)])
def test_commands_that_serve_their_own_api_do_not_offer_its_flags(
    command: str, unused: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    parsers = dict(walk(build_parser()))
    text = parsers[command].format_help()
    for flag in unused:
        assert flag not in text, (command, flag)
        value = "2" if flag == "--max-retries" else "http://x/graphql"
        for args in ([command, flag, value], [flag, value, command]):
            with pytest.raises(SystemExit) as exited:
                build_parser().parse_args(args)
            assert exited.value.code == 2, args
            (line,) = capsys.readouterr().err.splitlines()
            assert flag in line, line
    # The worker and the probe use the key and the endpoint, not --max-retries (Temporal
    # retries for the one, the other counts every request against its budget).
    for command in ("worker", "probe"):
        text = parsers[command].format_help()
        assert "--api-key" in text, command
        assert "--max-retries" not in text, command
    assert "--max-retries" in parsers["jobs list"].format_help()


def test_the_demo_output_is_ignored_by_git() -> None:
    # That the demo calls its outputs sample files is checked where it runs (test_demo.py).
    ignored = (Path(__file__).resolve().parents[2] / ".gitignore").read_text().split()
    assert "move-ugc-demo/" in ignored


# ------------------------------------------------------------------ run: interrupted, resumed
HELD = EmulatorConfig(job_queue_delay=0.0, job_duration=600.0, output_lag=0.0, output_size=4096)
"""A job that runs until the test moves the emulator's clock past its end."""


def _sigint_as_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


async def wait_for_job_in(journal: Path, proc: asyncio.subprocess.Process) -> str:
    for _ in range(600):
        if await anyio.Path(journal).exists():
            found: list[str] = JOB_ID.findall(await anyio.Path(journal).read_text())
            if found:
                return found[0]
        if proc.returncode is not None:
            break
        await asyncio.sleep(0.05)
    raise AssertionError("run recorded no job")


async def interrupt_and_resume(work: Path) -> tuple[Outcome, Outcome, dict[str, int], str]:
    (video,) = make_videos(work / "in", 1)
    out = work / "out"
    args = ["run", str(video), "-o", str(out), "--interval", "0.1", "--outputs", "MAIN_FBX"]
    async with Emulator(HELD) as emu:
        env = clean_env(**emu.environment())
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "aio_move_ugc",
            *args,
            cwd=work,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # Ctrl-C as a terminal delivers it: a test run started in the background of a
            # non-interactive shell inherits SIGINT ignored, and so would the command.
            preexec_fn=_sigint_as_default,
        )
        job_id = await wait_for_job_in(out / JOURNAL_NAME, proc)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode is not None
        first = Outcome(args, proc.returncode, stdout.decode(), stderr.decode())
        emu.advance(700)  # the job ends while nobody watches it
        second = await run_cli(["--json", *args], cwd=work, env=env)
        counts = {
            "files": emu.stats.root_fields["createFile"],
            "takes": len(emu.state.takes),
            "jobs": len(emu.state.jobs),
        }
    return first, second, counts, job_id


def test_an_interrupted_run_says_how_to_continue_and_continues_the_same_job(
    tmp_path: Path,
) -> None:
    first, second, counts, job_id = asyncio.run(interrupt_and_resume(tmp_path))
    assert first.code == 130, first
    (line,) = first.stderr.splitlines()
    video, out = tmp_path / "in" / "take-000.mp4", tmp_path / "out"
    assert line == (
        f"interrupted; run `aio-move-ugc run {video} -o {out}` again to continue the same "
        "take and job"
    )
    assert second.code == 0, second
    result = json.loads(second.stdout)
    assert result["job_id"] == job_id
    assert Path(result["outputs"]["MAIN_FBX"]).stat().st_size == 4096
    assert counts == {"files": 1, "takes": 1, "jobs": 1}


# ------------------------------------------------------------------ bulk --retry-failed
async def fail_then_retry(work: Path) -> list[Outcome]:
    make_videos(work / "in", 2)
    base = ["bulk", str(work / "in"), "-o", "out", "--interval", "0.1", "--outputs", "MAIN_FBX"]
    async with Emulator(replace(FAST, failure_rate=1.0)) as emu:
        env = clean_env(**emu.environment(), COLUMNS="80")
        failed = await run_cli(base, cwd=work, env=env)
        emu.api.config = replace(emu.api.config, failure_rate=0.0)
        still = await run_cli([*base, "--resume"], cwd=work, env=env)
        retried = await run_cli([*base, "--resume", "--retry-failed"], cwd=work, env=env)
    return [failed, still, retried]


def test_bulk_retry_failed_runs_failed_jobs_again(tmp_path: Path) -> None:
    failed, still, retried = asyncio.run(fail_then_retry(tmp_path))
    assert failed.code == 1, failed
    assert failed.stderr.splitlines() == [
        "error: 2 of 2 inputs failed (--resume --retry-failed runs the failed jobs again)"
    ]
    # Each failure row says why, whole.
    assert failed.stdout.count("failed: job job-") == 2, failed.stdout
    assert "…" not in failed.stdout
    assert still.code == 1, still
    assert "failed in an earlier run" in " ".join(still.stdout.split())
    assert retried.code == 0, retried
    assert "bulk: 2/2 done" in retried.stdout
