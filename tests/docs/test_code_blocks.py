"""Every python block of the README and the site runs, in order, against the emulator.

Each page gets a fresh emulator (serving from a background thread, with jobs that finish at
once), a working directory holding the sample videos the pages name, the two environment
variables, and one namespace and event loop shared by its blocks, so a page reads like a
session at the asyncio REPL. Blocks may use top-level `await`. A block that must not run says so
on its first line: `# docs: not run — <reason>`.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from aio_move_ugc import AsyncMoveUgc
from aio_move_ugc.testing import EmulatorThread, emulator_config

from ._markdown import LANGUAGES, README, ROOT, Block, blocks, pages

INSTANT: dict[str, Any] = {
    "job_queue_delay": 0.0,
    "job_duration": 0.0,
    "output_lag": 0.0,
    "volume_duration": 0.0,
}
"""Jobs and volumes end the moment they are created, so no block waits on a clock."""

MP4_HEADER = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
SAMPLE_VIDEOS = ["dance.mp4", "cam-a.mp4", "cam-b.mp4", *(f"videos/take-{i}.mp4" for i in range(3))]


def _sample_videos(directory: Path) -> None:
    for index, name in enumerate(SAMPLE_VIDEOS):
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(MP4_HEADER + bytes([index]) * 4096)


def _page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


BLOCK_TIMEOUT = 120.0
"""Seconds one block may run; an example that hangs (a watch that never ends) fails instead."""


def _run_block(block: Block, namespace: dict[str, Any], runner: asyncio.Runner) -> None:
    code = compile(block.code, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    if code.co_flags & inspect.CO_COROUTINE:  # a block with top-level await is a coroutine
        runner.run(asyncio.wait_for(eval(code, namespace), BLOCK_TIMEOUT))
        return
    # A plain block may start its own event loop (`asyncio.run(main())`) or block on I/O: it
    # runs in a thread so that a hang is bounded too.
    failure: list[BaseException] = []

    def run() -> None:
        try:
            exec(code, namespace)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"docs {block.where}", daemon=True)
    thread.start()
    thread.join(BLOCK_TIMEOUT)
    if thread.is_alive():
        pytest.fail(f"{block.where}: still running after {BLOCK_TIMEOUT} s")
    if failure:
        raise failure[0]


async def _close_clients(namespace: dict[str, Any]) -> None:
    for value in namespace.values():
        if isinstance(value, AsyncMoveUgc):
            await value.aclose()


def _pages_with_python() -> list[Path]:
    return [p for p in pages() if any(b.language == "python" for b in blocks(p))]


@pytest.mark.parametrize("page", _pages_with_python(), ids=_page_id)
# The migration guide runs the official sync SDK, whose models still use pydantic v1 idioms.
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning:move_ugc")
def test_python_blocks_run(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    runnable = [
        b
        for b in blocks(page)
        if b.language == "python" and b.not_run_reason is None and b.pytest_file is None
    ]
    if not runnable:
        pytest.skip("every python block of this page is a pytest file")
    _sample_videos(tmp_path)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    with EmulatorThread(emulator_config(**INSTANT)) as emu, asyncio.Runner() as runner:
        for name, value in emu.environment().items():
            monkeypatch.setenv(name, value)
        try:
            for block in runnable:
                _run_block(block, namespace, runner)
        finally:
            runner.run(_close_clients(namespace))
        key = emu.api_key
    assert key not in capsys.readouterr().out, "an example printed the API key"


PYTEST_INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
addopts = --strict-markers -p no:cacheprovider
"""
"""What the testing guide tells its readers to configure."""


def _pages_with_pytest_files() -> list[Path]:
    return [p for p in pages() if any(b.pytest_file for b in blocks(p))]


@pytest.mark.slow
@pytest.mark.parametrize("page", _pages_with_pytest_files(), ids=_page_id)
def test_pytest_files_pass(page: Path, pytester: pytest.Pytester) -> None:
    files = [b for b in blocks(page) if b.pytest_file]
    tests = 0
    for block in files:
        assert block.pytest_file is not None
        pytester.path.joinpath(block.pytest_file).write_text(block.code, encoding="utf-8")
        tests += len(re.findall(r"^(?:async )?def test_", block.code, flags=re.MULTILINE))
    pytester.makeini(PYTEST_INI)
    result = pytester.runpytest_subprocess("-q", timeout=240)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0, result.stdout.str()[-4000:]
    assert outcomes.get("errors", 0) == 0, result.stdout.str()[-4000:]
    assert outcomes.get("passed", 0) >= tests, result.stdout.str()[-4000:]


def test_every_block_is_fenced_with_a_known_language() -> None:
    problems = []
    for page in pages():
        for block in blocks(page):
            if block.language not in LANGUAGES:
                problems.append(f"{block.where}: language {block.language!r}")
            if block.language == "python" and block.indent:
                problems.append(f"{block.where}: an indented python block is never run")
    assert not problems, "\n".join(problems)


def test_blocks_that_do_not_run_say_why() -> None:
    skipped = [
        (b.where, b.not_run_reason)
        for page in pages()
        for b in blocks(page)
        if b.language == "python" and "docs: not run" in b.code.splitlines()[0]
    ]
    for where, reason in skipped:
        assert reason is not None, f"{where}: write `# docs: not run — <reason>`"
        assert len(reason) > 10, f"{where}: say why the block is not run"


CODE_LINE_LIMIT = 88
"""Characters of a code block's line that show without scrolling on a 1280 px wide screen."""


def _readme_test_command() -> str:
    """The README's test command: CI runs that very line (tests/test_repository.py), so it
    stays one line, however long."""
    return [b for b in blocks(README) if b.language == "bash"][1].code.strip()


def test_code_block_lines_fit_the_page() -> None:
    exempt = {_readme_test_command()}
    long = [
        f"{block.path.relative_to(ROOT)}:{block.line + number}: {len(line)} characters"
        for page in pages()
        for block in blocks(page)
        for number, line in enumerate(block.code.splitlines())
        if len(line) > CODE_LINE_LIMIT and line not in exempt
    ]
    assert not long, "\n".join(long)
