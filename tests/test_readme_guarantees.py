"""Every test the README's guarantees name exists (a renamed or deleted test fails here)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def named_tests() -> list[tuple[str, str | None]]:
    """(file, test or None) for each reference in the Guarantees section, in order;
    `::name` refers to the file named last."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Guarantees", 1)[1].split("\n## ", 1)[0]
    found: list[tuple[str, str | None]] = []
    current = ""
    for ref in re.findall(r"`([^`]*(?:tests/|::)[^`]*)`", section):
        path, _, name = ref.partition("::")
        if path:
            current = path
        found.append((current, name or None))
    return found


def test_the_guarantees_name_tests_that_exist() -> None:
    refs = named_tests()
    assert len(refs) > 30
    missing = []
    for path, name in refs:
        source = ROOT / path
        if not source.exists():
            missing.append(path)
            continue
        if source.is_file() and name is not None:
            pattern = rf"^(async )?def {re.escape(name)}\("
            if not re.search(pattern, source.read_text(encoding="utf-8"), re.MULTILINE):
                missing.append(f"{path}::{name}")
    assert missing == []
