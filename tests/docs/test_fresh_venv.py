"""The documentation's install, OpenTelemetry and testing snippets, run as a reader would: in
fresh virtualenvs, with nothing of this tree on the path but what the install commands put
there.

The install block of the home page is run command by command (its `pip` the virtualenv's, its
`dist` a temporary directory, its `/path/to/aio-move-ugc` this checkout): an editable install
with extras in one virtualenv; a built wheel, then the `file://` form, in another. In each, the
command line answers `--version` and the package is imported from where the command put it. The
OpenTelemetry snippet must print its spans; the testing guide's files must pass under the
configuration the guide gives.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import venv
from pathlib import Path

import pytest

from aio_move_ugc import __version__

from ._markdown import DOCS, ROOT, Block, blocks

pytestmark = pytest.mark.slow

INSTALL_TIMEOUT = 900.0
RUN_TIMEOUT = 300.0
PUBLISHED_ONLY = "once published"
"""The words that mark the index command as what will work later, not now."""

RUNNER = """
import ast, asyncio, os, sys
from aio_move_ugc.testing import EmulatorThread

source = open(sys.argv[1], encoding="utf-8").read()
code = compile(source, sys.argv[1], "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
with EmulatorThread(job_queue_delay=0, job_duration=0, output_lag=0, output_size=4096) as emu:
    os.environ.update(emu.environment())
    result = eval(code, {"__name__": "__main__"})
    if asyncio.iscoroutine(result):
        asyncio.run(result)
"""
"""Runs one python block of the docs as the site's examples run: top-level await allowed, the
two environment variables pointing at an emulator."""


def _env() -> dict[str, str]:
    drop = ("MOVE_UGC_", "PYTEST_", "PYTHON", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def _run(args: list[str], *, cwd: Path, timeout: float = RUN_TIMEOUT) -> str:
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=_env(), check=False
    )
    assert done.returncode == 0, f"{shlex.join(args)}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done.stdout


def _block(page: Path, language: str, needle: str) -> Block:
    (found,) = [b for b in blocks(page) if b.language == language and needle in b.code]
    return found


def install_commands() -> list[str]:
    """The home page's install commands, comments dropped, in order."""
    block = _block(DOCS / "index.md", "bash", "pip wheel")
    lines = [line.split(" #")[0].strip() for line in block.code.splitlines()]
    return [line for line in lines if line.startswith("pip ")]


def _fresh(home: Path) -> Path:
    venv.EnvBuilder(with_pip=True).create(home)
    return home / "bin"


def _pip(command: str, bin_dir: Path, dist: Path) -> list[str]:
    """A documented pip command, run with the virtualenv's pip; `dist` and the checkout's
    placeholder path replaced by real ones."""
    args = shlex.split(command)
    assert args[0] == "pip", command
    fixed = [
        arg.replace("file:///path/to/aio-move-ugc", ROOT.as_uri()).replace("dist/", f"{dist}/")
        for arg in args[1:]
    ]
    fixed = [str(dist) if arg == "dist" else arg for arg in fixed]
    return [str(bin_dir / "python"), "-m", "pip", "-q", "--disable-pip-version-check", *fixed]


def _pip_raw(bin_dir: Path, *args: str) -> list[str]:
    return [str(bin_dir / "python"), "-m", "pip", "-q", "--disable-pip-version-check", *args]


def _where(bin_dir: Path, cwd: Path) -> Path:
    code = "import aio_move_ugc; print(aio_move_ugc.__file__)"
    return Path(_run([str(bin_dir / "python"), "-c", code], cwd=cwd).strip())


def _version(bin_dir: Path, cwd: Path) -> None:
    said = _run([str(bin_dir / "aio-move-ugc"), "--version"], cwd=cwd).strip()
    assert said == f"aio-move-ugc {__version__}"


def _otel_snippet_prints_spans(bin_dir: Path, work: Path) -> None:
    snippet = _block(DOCS / "guides" / "cli.md", "python", "ConsoleSpanExporter")
    (work / "snippet.py").write_text(snippet.code, encoding="utf-8")
    (work / "runner.py").write_text(RUNNER, encoding="utf-8")
    (work / "dance.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(4096))
    printed = _run([str(bin_dir / "python"), "runner.py", "snippet.py"], cwd=work)
    names = set(re.findall(r'"name": "([^"]+)"', printed))
    assert {"graphql ListRigs", "graphql CreateFile", "move_ugc.upload"} <= names, printed[-3000:]


def test_the_install_commands_work_in_fresh_virtualenvs(tmp_path: Path) -> None:
    commands = install_commands()
    assert not any(PUBLISHED_ONLY in line for line in commands)
    editable = [c for c in commands if c.startswith("pip install -e ")]
    built = [c for c in commands if c not in editable]
    assert len(editable) == 2
    assert any(c.startswith("pip wheel ") for c in built)
    assert any(".whl" in c for c in built)
    assert any("@ file://" in c for c in built)
    # The index command stays only where it says it will work once published.
    (later,) = [b for b in blocks(DOCS / "index.md") if "pip install aio-move-ugc" in b.code]
    assert PUBLISHED_ONLY in later.code
    wheel = next(c for c in built if ".whl" in c)
    assert f"aio_move_ugc-{__version__}-py3-none-any.whl" in wheel, "the wheel's name is stale"
    work = tmp_path / "work"
    work.mkdir()
    dist = tmp_path / "dist"

    # From the checkout, editable, with the extras of the otel and testing snippets.
    checkout = _fresh(tmp_path / "editable")
    for command in editable:
        _run(_pip(command, checkout, dist), cwd=ROOT, timeout=INSTALL_TIMEOUT)
    _version(checkout, work)
    assert _where(checkout, work).is_relative_to(ROOT)
    _otel_snippet_prints_spans(checkout, work)

    # A wheel built from the checkout, then the file:// form of another project.
    elsewhere = _fresh(tmp_path / "wheel")
    for command in built:
        if command.startswith("pip install"):  # each install from nothing, not "satisfied"
            _run(_pip_raw(elsewhere, "uninstall", "-y", "aio-move-ugc"), cwd=work)
        _run(_pip(command, elsewhere, dist), cwd=ROOT, timeout=INSTALL_TIMEOUT)
        if command.startswith("pip install"):
            _version(elsewhere, work)
            assert _where(elsewhere, work).is_relative_to(tmp_path / "wheel"), command
    assert [p.name for p in dist.iterdir()] == [f"aio_move_ugc-{__version__}-py3-none-any.whl"]
    _otel_snippet_prints_spans(elsewhere, tmp_path / "wheel")


def test_the_testing_guide_files_pass_with_the_testing_extra(tmp_path: Path) -> None:
    bin_dir = _fresh(tmp_path / "venv")
    dist = tmp_path / "dist"
    _run(_pip_raw(bin_dir, "wheel", "--no-deps", ".", "-w", str(dist)), cwd=ROOT)
    (wheel,) = dist.iterdir()
    # What the guide says to install: the testing extra.
    guide = DOCS / "guides" / "testing.md"
    said = _block(guide, "bash", "[testing]").code
    assert "pip install -e '.[testing]'" in said
    _run(_pip_raw(bin_dir, "install", f"{wheel}[testing]"), cwd=ROOT, timeout=INSTALL_TIMEOUT)
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(_block(guide, "toml", "asyncio_mode").code)
    files = [b for b in blocks(guide) if b.pytest_file]
    assert len(files) >= 3
    tests = 0
    for block in files:
        assert block.pytest_file is not None
        (project / block.pytest_file).write_text(block.code, encoding="utf-8")
        tests += len(re.findall(r"^(?:async )?def test_", block.code, flags=re.MULTILINE))
    ran = subprocess.run(
        [str(bin_dir / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        env=_env(),
        check=False,
    )
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]
    passed = re.search(r"(\d+) passed", ran.stdout)
    assert passed is not None, ran.stdout[-4000:]
    assert int(passed[1]) >= tests, ran.stdout[-4000:]
