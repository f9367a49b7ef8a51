"""The repository as a newcomer gets it: no merge-conflict markers and no generated output in
any tracked file, and the README's test command is the one CI and nox run."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFLICT = re.compile(r"^(<{7}|>{7})( |$)|^={7}$", re.MULTILINE)
"""A line git writes around the two sides of a conflict (`<<<<<<< HEAD`, `=======`,
`>>>>>>> branch`); spelled as a pattern so that this file holds none itself."""
GENERATED = re.compile(
    r"(^|/)(build|site|dist|\.venv|\.nox|__pycache__|\.hypothesis|\.mypy_cache|\.ruff_cache"
    r"|\.pytest_cache|move-ugc-demo|results)/|\.pyc$|\.egg-info(/|$)|\.part$|(^|/)\.coverage"
)
"""What builds, runs and tools write: never tracked."""


def tracked_files() -> list[str]:
    done = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False, timeout=60
    )
    if done.returncode != 0:  # not a checkout (an sdist): every file below the root
        return [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file()]
    return [name for name in done.stdout.decode().split("\0") if name]


def test_no_tracked_file_holds_a_merge_conflict_marker() -> None:
    found = []
    for name in tracked_files():
        path = ROOT / name
        if not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        for match in CONFLICT.finditer(data.decode("utf-8", "replace")):
            line = data[: match.start()].count(b"\n") + 1
            found.append(f"{name}:{line}: {match.group(0)}")
    assert not found, "unresolved merge conflicts:\n" + "\n".join(found)


def test_the_conflict_check_sees_a_conflict() -> None:
    sample = "\n".join(["intro", "<" * 7 + " HEAD", "ours", "=" * 7, "theirs", ">" * 7 + " b"])
    assert len(CONFLICT.findall(sample)) == 3
    assert not CONFLICT.findall("a heading\n" + "=" * 9 + "\n<<< not a marker")


def test_no_generated_output_is_tracked() -> None:
    found = [name for name in tracked_files() if GENERATED.search(name)]
    assert not found, "generated files are tracked: " + ", ".join(found[:20])


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [m.strip() for m in re.findall(r"```bash\n(.*?)```", text, re.DOTALL)[:2]]


def test_ci_runs_the_readme_test_command_then_the_slow_tier() -> None:
    _, test_command = _readme_commands()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command in ci, "CI must run exactly the README's test command"
    slow = [line for line in ci if "-m slow" in line]
    assert slow, "CI runs the slow tier too"
    assert ci.index(slow[0]) > ci.index(test_command)
    pytest_args = shlex.split(test_command.split("&&")[-1])
    nox = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    fast_tier = re.search(r"FAST_TIER = (\[.*?\])", nox)
    assert fast_tier is not None
    assert pytest_args[3:] == eval(fast_tier.group(1)), "nox -s tests runs the same tier"


def test_the_readme_commands_take_any_python_3() -> None:
    for command in _readme_commands():
        assert command.startswith("python3 -m venv "), command
