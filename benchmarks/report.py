"""Results of `python -m benchmarks`: JSON, a Markdown report and a figure.

`python -m benchmarks.report [results.json]` rebuilds the Markdown and the figure from a saved
JSON; `python -m benchmarks.report --readme [results.json]` prints the aims as the table the
README quotes (the same numbers as RESULTS.md). The part of RESULTS.md between the notes
markers is written by hand and kept as it is.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from ._common import fmt, fmt_ratios

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
RESULTS_JSON = RESULTS_DIR / "results.json"
PUBLISHED_MD = HERE / "RESULTS.md"
PUBLISHED_PNG = HERE / "results.png"
NOTES_START = "<!-- notes:start (kept when the report is regenerated) -->"
NOTES_END = "<!-- notes:end -->"
ORDER = ("transfers", "api", "import", "bulk", "follow", "watch")


def write_json(results: dict[str, Any], path: Path = RESULTS_JSON) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")


def _benchmarks(results: dict[str, Any]) -> list[dict[str, Any]]:
    found = results.get("benchmarks", {})
    names = [n for n in ORDER if n in found] + [n for n in found if n not in ORDER]
    return [found[n] for n in names]


def _notes(existing: Path) -> str:
    if existing.exists():
        text = existing.read_text()
        if NOTES_START in text and NOTES_END in text:
            return text[text.index(NOTES_START) : text.index(NOTES_END) + len(NOTES_END)]
    return f"{NOTES_START}\n\n{NOTES_END}"


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|")


def markdown(results: dict[str, Any], *, png_name: str, notes: str) -> str:
    env = results.get("environment", {})
    mode = "quick" if results.get("quick") else "full"
    dirty = env.get("dirty") or []
    state = (
        f"with uncommitted changes to {', '.join(dirty[:6])}{', ...' if len(dirty) > 6 else ''}"
        if dirty
        else "committed, clean tree"
    )
    load = env.get("load_before", "?"), env.get("load_after", "?")
    lines = [
        "# Benchmarks",
        "",
        f"`python -m benchmarks{' --quick' if results.get('quick') else ''}` ({mode} mode), "
        f"{env.get('when', '?')}, revision {env.get('revision', '?')} ({state}). Machine: "
        f"{env.get('cpus', '?')} x {env.get('cpu', '?')}, {env.get('memory_gib', '?')} GiB, "
        f"{env.get('platform', '?')}, Python {env.get('python', '?')}; load average (1, 5, "
        f"15 min) {load[0]} before and {load[1]} after; "
        f"{fmt(results.get('elapsed_s', 0))} s of benchmarks in all (when and under what load "
        "each ran is given in its section).",
        "",
        "Every aim is a ratio to a peer measured in the same run (or a count): the SDK and its "
        "peer alternate, repetition by repetition, and the figure is the median of the "
        "ratios of each repetition, with [min-max]. The machine is shared and noisy: absolute "
        "figures move with the load, the ratios much less.",
        "",
        "## Aims",
        "",
        "| aim | aio_move_ugc | peer | ratio (or count), median [min-max] | target | |",
        "|---|---:|---|---:|---:|---|",
    ]
    for bench in _benchmarks(results):
        for item in bench.get("aims", []):
            sign = "<=" if item["at_most"] else ">="
            verdict = "met" if item["met"] else "**missed**"
            unit = item.get("unit", "x")
            runs = item.get("runs") or [item["value"]]
            spread = f" [{fmt(min(runs))}-{fmt(max(runs))}]" if len(runs) > 1 else ""
            value = f"{fmt(item['value'])}{'x' if unit == 'x' else ' ' + unit}{spread}"
            lines.append(
                f"| {_cell(item['aim'])} | {_cell(item.get('ours', ''))} | "
                f"{_cell(item.get('peer', ''))} | {value} | {sign} {fmt(item['target'])} "
                f"| {verdict} |"
            )
        if "error" in bench:
            lines.append(f"| {bench['name']} | failed: {_cell(bench['error'])[:120]} | | |")
    lines += ["", f"![benchmark figures]({png_name})", ""]
    for bench in _benchmarks(results):
        lines += [f"## {bench.get('title', bench['name'])}", ""]
        if "error" in bench:
            lines += ["```", bench["error"], "```", ""]
            continue
        params = ", ".join(
            f"{k}={v}" for k, v in bench.get("params", {}).items() if not isinstance(v, dict)
        )
        when = ""
        if "ran_at" in bench:
            low, high = bench.get("load", ["?", "?"])
            when = f" Run {bench['ran_at']}, load average {low} before and {high} after."
        lines += [
            f"Parameters: {params}; {fmt(bench.get('elapsed_s', 0))} s.{when}",
            "",
            "| case | unit | median | min | max | ratio to peer, median [min-max] |",
            "|---|---|---:|---:|---:|---|",
        ]
        for row in bench["rows"]:
            lines.append(
                f"| {_cell(row['case'])} | {row['unit']} | {fmt(row['median'])} | "
                f"{fmt(row['min'])} | {fmt(row['max'])} | {_cell(fmt_ratios(row['ratios']))} |"
            )
        lines.append("")
        lines += _details(bench)
        for note in bench.get("notes", []):
            lines.append(f"- {note}")
        if bench.get("notes"):
            lines.append("")
    lines += ["## Notes", "", notes, ""]
    return "\n".join(lines)


def _details(bench: dict[str, Any]) -> list[str]:
    """A few figures worth showing beside the table, per benchmark."""
    out: list[str] = []
    name = bench["name"]
    rows = {row["case"]: row for row in bench["rows"]}
    if name == "api":
        calls = bench.get("params", {}).get("calls", {})
        shown = ", ".join(f"{case} {n}" for case, n in calls.items())
        out.append(f"Calls per run: {shown}.")
        cpu = [
            f"{case}: {row['extra']['client_cpu_ms_per_call']:.2f} / "
            f"{row['extra']['emulator_cpu_ms_per_call']:.2f}"
            for case, row in rows.items()
            if "client_cpu_ms_per_call" in row.get("extra", {})
        ]
        out += [
            "",
            "CPU ms per call, client / emulator (median): " + "; ".join(cpu) + ".",
            "",
        ]
        per_call = [
            f"{case}: {row['extra']['requests_per_call']:g}"
            for case, row in rows.items()
            if "requests_per_call" in row.get("extra", {})
        ]
        out += ["Requests the emulator saw per call: " + "; ".join(per_call) + ".", ""]
    if name == "watch":
        bound = bench["rows"][0]["extra"].get("bound_s")
        if bound:
            out.append(
                f"- lower bound: every job's outputs are ready at most {bound:g} s "
                "(queue + running + output lag) after the last job was created"
            )
        for case, row in rows.items():
            if row["extra"].get("requests_per_round"):
                per_round = row["extra"]["requests_per_round"]
                shown = ", ".join(str(n) for n in per_round[:30])
                more = ", ..." if len(per_round) > 30 else ""
                out.append(
                    f"- {case}: {len(per_round)} rounds, requests per round "
                    f"(first repetition): {shown}{more}"
                )
        out.append("")
    if name == "bulk":
        wall = bench["rows"][0]["extra"]
        for i, stages in enumerate(wall.get("last_input_at_stage_s", [])):
            times = ", ".join(f"{k} {v:.2f} s" for k, v in stages.items())
            out.append(
                f"- repetition {i + 1}: last input {times}; CPU client "
                f"{wall['client_cpu_s'][i]} s, emulator {wall['server_cpu_s'][i]} s"
            )
        out.append("")
    if name == "import":
        profile = bench["rows"][0]["extra"].get("importtime", {})
        if profile:
            top = ", ".join(
                f"{p['package']} {p['ms']:.0f} ms" for p in profile["top_packages_ms"][:8]
            )
            selfs = ", ".join(f"{m['module']} {m['ms']:.0f} ms" for m in profile["top_self_ms"][:8])
            out += [
                f"`python -X importtime -c 'import aio_move_ugc'`: "
                f"{profile['total_ms']:.0f} ms in all (one run, with its own noise).",
                f"- self time by top-level package: {top}",
                f"- largest single modules: {selfs}",
                "",
            ]
    return out


def figure(results: dict[str, Any], path: Path) -> None:
    """One strip per aim: each repetition's ratio (or count) as a dot, the median as a
    diamond, the target as a line, the side of the line that meets the aim shaded; linear
    axes only."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    aims = [
        (bench.get("title", bench["name"]), item)
        for bench in _benchmarks(results)
        for item in bench.get("aims", [])
    ]
    if not aims:
        return
    fig, axes = plt.subplots(
        len(aims), 1, figsize=(10, 0.95 * len(aims) + 1.0), squeeze=False, layout="constrained"
    )
    for ax, (_title, item) in zip(axes.flat, aims, strict=True):
        runs = item.get("runs") or [item["value"]]
        target, value, at_most = item["target"], item["value"], item["at_most"]
        top = max([*runs, target]) * 1.15
        ax.set_xlim(0, top)
        ax.set_ylim(-1, 1)
        color = "tab:green" if item["met"] else "tab:red"
        if at_most:
            ax.axvspan(0, target, color="tab:green", alpha=0.08)
        else:
            ax.axvspan(target, top, color="tab:green", alpha=0.08)
        ax.axvline(target, color="0.3", linestyle="--", linewidth=1)
        ax.scatter(runs, [0.0] * len(runs), s=18, color=color, alpha=0.55, zorder=3)
        ax.scatter([value], [0.0], s=70, marker="D", color=color, zorder=4)
        unit = item.get("unit", "x")
        better = "lower is better" if at_most else "higher is better"
        verdict = "met" if item["met"] else "missed"
        shown = f"{fmt(value)}x" if unit == "x" else f"{fmt(value)} {unit}"
        ax.set_title(
            textwrap.shorten(f"{item['aim']}: {shown}, {verdict} ({better})", 115),
            fontsize=8.5,
            loc="left",
        )
        ax.set_yticks([])
        ax.tick_params(axis="x", labelsize=7)
        ax.set_xlabel("aio_move_ugc / peer (x)" if unit == "x" else unit, fontsize=7, labelpad=1)
    mode = "quick" if results.get("quick") else "full"
    revision = results.get("environment", {}).get("revision", "?")
    fig.suptitle(
        f"aio_move_ugc benchmarks, {mode} mode, revision {revision}: dots are repetitions, "
        "diamonds medians, dashed lines the aims (shaded side: met)",
        fontsize=9,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_reports(results: dict[str, Any], md_path: Path, png_path: Path) -> None:
    figure(results, png_path)
    text = markdown(results, png_name=png_path.name, notes=_notes(md_path))
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text(text)


def readme_table(results: dict[str, Any]) -> str:
    """The aims as a compact Markdown table, for the README."""
    env = results.get("environment", {})
    lines = [
        "| aim | aio_move_ugc | peer (same run) | measured | |",
        "|---|---:|---|---:|---|",
    ]
    for bench in _benchmarks(results):
        for item in bench.get("aims", []):
            unit = item.get("unit", "x")
            value = f"{fmt(item['value'])}{'x' if unit == 'x' else ' ' + unit}"
            verdict = "met" if item["met"] else "missed"
            lines.append(
                f"| {_cell(item['aim'])} | {_cell(item.get('ours', ''))} | "
                f"{_cell(item.get('peer', ''))} | {value} | {verdict} |"
            )
    lines += [
        "",
        f"Revision {env.get('revision', '?')}, {env.get('when', '?')}, "
        f"{env.get('cpus', '?')} CPUs, load average {env.get('load_before', '?')} before; "
        "medians of paired repetitions; details in benchmarks/RESULTS.md.",
    ]
    return "\n".join(lines)


def main() -> None:
    args = sys.argv[1:]
    readme = "--readme" in args
    args = [a for a in args if a != "--readme"]
    source = Path(args[0]) if args else RESULTS_JSON
    results = json.loads(source.read_text())
    if readme:
        print(readme_table(results))
    elif results.get("quick"):
        write_reports(results, RESULTS_DIR / "RESULTS.md", RESULTS_DIR / "results.png")
    else:
        write_reports(results, PUBLISHED_MD, PUBLISHED_PNG)


if __name__ == "__main__":
    main()
