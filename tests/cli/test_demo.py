"""The README's first command, run as a new user runs it: no account, no settings, no network."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
DEFAULT_OUTPUTS = 7
JOB_ID = re.compile(r"job-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def first_bash_block(text: str) -> str:
    match = re.search(r"```bash\n(.*?)```", text, re.DOTALL)
    assert match, "README.md has no bash block"
    return match.group(1).strip()


def test_the_readme_starts_with_the_demo() -> None:
    command = first_bash_block(README.read_text(encoding="utf-8"))
    assert len(command.splitlines()) == 1
    assert command.endswith("aio-move-ugc demo")
    # What the test below runs is that last step: the installed script is `-m aio_move_ugc`.
    *_, last = (shlex.split(step) for step in command.split("&&"))
    assert [Path(last[0]).name, *last[1:]] == ["aio-move-ugc", "demo"]


@pytest.mark.slow
def test_the_demo_runs_the_whole_flow_in_a_clean_environment(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOVE_UGC_")}
    done = subprocess.run(
        [sys.executable, "-m", "aio_move_ugc", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr

    # Where the README says the outputs land.
    assert "`./move-ugc-demo/`" in README.read_text(encoding="utf-8")
    out = tmp_path / "move-ugc-demo"
    outputs = sorted(p for p in out.iterdir() if p.name.startswith("job-"))
    assert len(outputs) == DEFAULT_OUTPUTS
    assert all(p.stat().st_size > 0 for p in outputs)
    assert not [p for p in out.iterdir() if ".part" in p.name]

    # One job, named in the progress on stderr, in the file names and in the summary table.
    (job_id,) = {JOB_ID.match(p.name).group(0) for p in outputs}  # type: ignore[union-attr]
    assert set(JOB_ID.findall(done.stderr)) == {job_id}
    assert f"outputs of {job_id}" in done.stdout
    assert "7 outputs ready" in done.stderr
    assert f"done: {DEFAULT_OUTPUTS} outputs in move-ugc-demo" in done.stderr
    assert "the emulator's outputs are sample files" in " ".join(done.stderr.split())
    # Within the smallest plan (100 requests an hour), which the demo's emulator enforces.
    (requests,) = re.findall(r"\((\d+) API requests\)", done.stderr)
    assert 0 < int(requests) <= 100
