"""The site builds with `mkdocs build --strict` (a broken link or reference fails), every page
is in its navigation, and the README's first example type-checks under mypy --strict."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from aio_move_ugc.cli import build_parser

from ._markdown import DOCS, README, ROOT, blocks, pages

BUILD_TIMEOUT = 300.0


def _nav_pages(entries: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(entries, str):
        found.add(entries)
    elif isinstance(entries, list):
        for entry in entries:
            found |= _nav_pages(entry)
    elif isinstance(entries, dict):
        for value in entries.values():
            found |= _nav_pages(value)
    return found


def _config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    return config


def test_every_page_is_in_the_navigation() -> None:
    in_nav = _nav_pages(_config()["nav"])
    on_disk = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert on_disk == in_nav


@pytest.mark.slow
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        env=env,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-6000:]
    reference = (site / "reference" / "resources" / "index.html").read_text()
    for name in ("download_outputs", "create_singlecam", "generate_share_code", "watch_many"):
        assert name in reference, f"{name} missing from the generated reference"
    assert "move_ugc_emulator" in (site / "reference" / "testing" / "index.html").read_text()
    benchmarks = (site / "benchmarks" / "index.html").read_text()
    assert "jobs.retrieve per second" in benchmarks  # benchmarks/RESULTS.md was included
    assert (site / "results.png").exists()
    assert "Unreleased" in (site / "changelog" / "index.html").read_text()
    # Nothing fetched at run time: no web fonts (the site is read offline too).
    for page in site.rglob("*.html"):
        assert "fonts.googleapis" not in page.read_text(), page
        assert "fonts.gstatic" not in page.read_text(), page


def test_a_plain_build_writes_into_the_ignored_build_directory() -> None:
    config = _config()
    assert config["site_dir"] == "build/site"
    assert "build/" in (ROOT / ".gitignore").read_text().split()
    assert config["theme"]["font"] is False


def test_the_home_page_points_to_every_guide() -> None:
    home = (DOCS / "index.md").read_text()
    for guide in sorted((DOCS / "guides").glob("*.md")):
        assert f"guides/{guide.name}" in home, guide.name


@pytest.mark.slow
def test_the_readme_first_example_type_checks(tmp_path: Path) -> None:
    first = next(b for b in blocks(README) if b.language == "python")
    example = tmp_path / "readme_first_example.py"
    example.write_text(first.code)
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path), str(example)],
        cwd=tmp_path,  # away from the project's own mypy settings
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout[-4000:]


def _command_lines() -> list[tuple[str, str]]:
    found = []
    for page in pages():
        for block in blocks(page):
            if block.language != "bash":
                continue
            # A line ending in a backslash goes on on the next (long commands are split).
            lines = block.code.replace("\\\n", " ").splitlines()
            for offset, line in enumerate(lines):
                command = line.split(" #")[0].strip()
                if command.startswith("aio-move-ugc "):
                    found.append((f"{block.where}+{offset}", command))
    return found


@pytest.mark.parametrize(("where", "command"), _command_lines())
def test_documented_commands_are_accepted_by_the_cli(where: str, command: str) -> None:
    args = shlex.split(command)[1:]
    try:
        parsed = build_parser().parse_args(args)
    except SystemExit as exc:  # argparse refuses: the documentation is wrong
        pytest.fail(f"{where}: `{command}` is refused ({exc})")
    assert parsed.command


INDEX_INSTALL = re.compile(r"pip install\s+'?aio-move-ugc\b(?!\S*\s+@)")
"""Installing the package by name from an index (not the `name @ file://...` form)."""


def test_the_index_install_is_offered_only_as_what_works_once_published() -> None:
    sources = [*pages(), *sorted((ROOT / "aio_move_ugc").rglob("*.py"))]
    offered = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sources
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if INDEX_INSTALL.search(line)
        and "once published" not in line
        and path.name != "changelog.md"
    ]
    assert not offered, "not on an index yet: " + ", ".join(offered)
