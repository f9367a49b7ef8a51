"""The plugin from a clean install: a fresh virtualenv holding only the package (from this tree),
pytest and pytest-asyncio, running a user's test files; then the same without pytest-asyncio,
under anyio's plugin. Its pytest finds the plugin through the package's entry point alone."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from ._user_tests import ANYIO, ASYNC_FLOW, INI_AUTO, UNUSED

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 600.0
RUN_TIMEOUT = 240.0


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOVE_UGC_", "PYTEST_"))}
    env.pop("PYTHONPATH", None)
    return env


def test_a_clean_install_brings_the_fixtures(tmp_path: Path) -> None:
    home = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(home)
    python = home / "bin" / "python"
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            str(ROOT),
            "pytest",
            "pytest-asyncio",
        ],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        env=_env(),
        check=False,
    )
    assert install.returncode == 0, install.stderr[-4000:]

    project = tmp_path / "user-project"
    project.mkdir()
    (project / "pytest.ini").write_text(INI_AUTO)
    (project / "test_flow.py").write_text(ASYNC_FLOW.format(marker=""))
    (project / "test_unused.py").write_text(UNUSED)
    # Each file in a run of its own: the unused-plugin check must not see the other's imports.
    for test_file, passed in (("test_unused.py", 2), ("test_flow.py", 1)):
        run = subprocess.run(
            [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            env=_env(),
            check=False,
        )
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        assert f"{passed} passed" in run.stdout, run.stdout[-4000:]
    # Without pytest-asyncio, anyio's plugin (anyio comes with the package) runs the fixtures.
    removed = subprocess.run(
        [str(python), "-m", "pip", "uninstall", "-q", "-y", "pytest-asyncio"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        env=_env(),
        check=False,
    )
    assert removed.returncode == 0, removed.stderr[-2000:]
    (project / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n")
    (project / "test_anyio.py").write_text(ANYIO)
    run = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_anyio.py"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        env=_env(),
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "2 passed" in run.stdout, run.stdout[-4000:]
    # Nothing of this tree leaked in: the package came from the virtualenv's site-packages.
    where = subprocess.run(
        [str(python), "-c", "import aio_move_ugc.testing.plugin as p; print(p.__file__)"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        env=_env(),
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(home), where.stdout
    assert sys.prefix != str(home)
