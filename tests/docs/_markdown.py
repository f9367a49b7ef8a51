"""Code blocks of the documentation: where they are, what language, whether they opt out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)\s*(?P<info>[^\s`]*)")
NOT_RUN = re.compile(r"^#\s*docs:\s*not run\s*[-—:]\s*(?P<reason>\S.*)$")
"""First line of a python block that is shown but not run: `# docs: not run — <reason>`."""
PYTEST_FILE = re.compile(r"^#\s*(?P<name>(test_\w+|conftest)\.py)\s*$")
"""First line of a python block that is a pytest file of its own: `# test_something.py`."""
LANGUAGES = {"python", "bash", "text", "toml", "ini", "json", "yaml", "graphql", "console"}


@dataclass(frozen=True)
class Block:
    """One fenced code block."""

    path: Path
    line: int
    """Line of the block's first line of code (1-based), for error messages."""
    language: str
    code: str
    indent: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def pytest_file(self) -> str | None:
        """The file name, when the block is a pytest file rather than a REPL session."""
        first = self.code.lstrip().splitlines()[0] if self.code.strip() else ""
        match = PYTEST_FILE.match(first)
        return match["name"] if match else None

    @property
    def not_run_reason(self) -> str | None:
        first = self.code.lstrip().splitlines()[0] if self.code.strip() else ""
        match = NOT_RUN.match(first)
        return match["reason"].strip() if match else None


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a markdown file, in order."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        fence, indent = match["fence"], match["indent"]
        body: list[str] = []
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            body.append(lines[end].removeprefix(indent))
            end += 1
        if end == len(lines):
            raise ValueError(f"{path}:{index + 1}: code block is never closed")
        found.append(Block(path, index + 2, match["info"].lower(), "\n".join(body) + "\n", indent))
        index = end + 1
    return found


def pages() -> list[Path]:
    """The README and every page of the site."""
    return [README, *sorted(DOCS.rglob("*.md"))]
