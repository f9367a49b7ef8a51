"""Sessions: tests (the fast tier, as the README runs it), slow (the slow tier: fresh installs,
Temporal, GiB transfers, docs build, benchmark smoke), lint, typecheck, docs (the site, into
build/site/; `-- serve` to preview), bench (quick mode with BENCH_QUICK=1 or `-- --quick`), stress
(timing-sensitive tests 20 times under load), soak (the hostile world over thousands of
seeds)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"


FAST_TIER = ["-q", "-p", "no:cacheprovider", "-n", "4", "--dist", "loadfile"]
"""The README's test command: every test not marked slow, in four worker processes, each test
file kept in one worker (a module's fixtures are set up once)."""


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The fast tier: what the README's test command runs."""
    session.install("-e", ".[test]")
    session.run("pytest", *FAST_TIER, *session.posargs)


@nox.session(python=PYTHON)
def slow(session: nox.Session) -> None:
    """The slow tier: the tests marked slow (fresh installs, Temporal dev servers and their
    kill scenarios, GiB round trips, the docs build, the quick benchmarks)."""
    session.install("-e", ".[test,formats]")
    session.run("pytest", "-q", "-p", "no:cacheprovider", "-m", "slow", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy")


STRESSED = [
    "tests/reliability",
    "tests/bulk",
    "tests/transfers",
    "tests/test_watch.py",
    "tests/test_polling.py",
]
"""The tests that wait on transfers, jobs and faults: the first to show a dependence on timing."""


@nox.session(python=PYTHON)
def stress(session: nox.Session) -> None:
    """The timing-sensitive tests 20 times in a row (or `-- N`) while another process keeps one
    core busy; any failure stops the session."""
    session.install("-e", ".[test]")
    runs = int(session.posargs[0]) if session.posargs else 20
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        for run in range(1, runs + 1):
            session.log(f"run {run} of {runs}, one core kept busy")
            session.run("pytest", "-q", "-p", "no:cacheprovider", "-m", "", *STRESSED)
    finally:
        burner.kill()
        burner.wait()


def _nginx_found() -> bool:
    return shutil.which("nginx") is not None or os.access("/usr/sbin/nginx", os.X_OK)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """The benchmarks; a full run publishes benchmarks/RESULTS.md from a committed tree."""
    # curl is the peer of the transfer and bulk benchmarks; nginx (Debian's `nginx` package,
    # built with the dav module for PUT) is the static server of the transfer benchmarks.
    missing = [
        name
        for name, found in (("curl", shutil.which("curl")), ("nginx", _nginx_found()))
        if not found
    ]
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        session.run("apt-get", "update", "-q", external=True)
        # No service start: the benchmarks run their own nginx on a free port.
        session.run(
            "apt-get",
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            *missing,
            external=True,
            env={"RUNLEVEL": "1", "DEBIAN_FRONTEND": "noninteractive"},
        )
    session.install("-e", ".[bench]")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site strictly into build/site/ (or `nox -s docs -- serve`)."""
    session.install("-e", ".[docs]")
    session.env["NO_MKDOCS_2_WARNING"] = "1"
    if session.posargs[:1] == ["serve"]:
        session.run("mkdocs", "serve", *session.posargs[1:])
    else:
        session.run("mkdocs", "build", "--strict", "-d", "build/site", *session.posargs)


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """The simulated hostile world over many seeds: `-- COUNT [START]` (2,000 from 10,000 by
    default); a failing seed prints how to replay it alone."""
    session.install("-e", ".[test]")
    count = int(session.posargs[0]) if session.posargs else 2000
    start = int(session.posargs[1]) if len(session.posargs) > 1 else 10_000
    session.run(
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-m",
        "slow",
        "tests/world",
        env={"WORLD_SEEDS": f"{start}:{count}"},
    )
