"""mkdocs hooks: pages made at build time from files that live outside `docs/`.

The benchmark results (`benchmarks/RESULTS.md` and its figure) and the changelog are written
where they belong; the site shows them as they are at build time instead of keeping copies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
INCLUDE = "<!-- include: "
"""A page line `<!-- include: path/from/the/root.md -->` is replaced by that file's text."""
FIGURE = "benchmarks/results.png"


def on_files(files: Files, config: Any) -> Files:
    """Publish the benchmark figure next to the benchmarks page."""
    figure = ROOT / FIGURE
    if figure.exists():
        files.append(File.generated(config, "results.png", abs_src_path=str(figure)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Replace include lines by the included file's text."""
    lines = []
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith(INCLUDE) and stripped.endswith("-->"):
            target = stripped[len(INCLUDE) : -len("-->")].strip()
            lines.append((ROOT / target).read_text(encoding="utf-8"))
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"
