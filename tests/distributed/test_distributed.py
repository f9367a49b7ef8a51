"""Distributed bulk runs on a real Temporal dev server, real workers and the emulator.

Each test runs a scenario of `scenarios.py` in a child process (Temporal's runtime may crash
while an interpreter exits, which must not touch the suite) and asserts on what it observed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.distributed.harness import ROOT, run_scenario

pytestmark = [pytest.mark.slow, pytest.mark.temporal]


def test_import_stays_light() -> None:
    code = (
        "import sys, aio_move_ugc, aio_move_ugc.distributed, aio_move_ugc.distributed._cli;"
        "print('temporalio' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_one_worker_runs_resubmits_refuses_and_retries(tmp_path: Path) -> None:
    found = run_scenario("basic", tmp_path, limit=240)
    # Started before the server, the worker waited for it instead of giving up.
    assert found["worker_waited_for_server"] is True
    # A first run: every input processed once, outputs byte for byte what the API serves.
    assert found["first_ok"] == [True] * 4
    assert found["first_skipped"] == [False] * 4
    assert found["first_wrong_outputs"] == []
    assert found["first_distinct_jobs"] == 4
    # The same inputs again attach to the finished workflows: nothing new is created.
    assert found["again_ok"] == [True] * 4
    assert found["again_skipped"] == [True] * 4
    assert found["again_same_jobs"] is True
    assert found["again_created_nothing"] is True
    # Other outputs are another input.
    assert found["other_outputs_new_job"] is True
    assert found["other_outputs_files"] == ["MAIN_FBX"]
    assert found["leftovers"] == []
    # Answers lost while list queries lag: found within the window, one take and job.
    assert found["lag_ok"] == [True]
    assert found["lag_lost_answers"] == 2
    assert found["lag_creates"] == [1, 1]
    assert found["lag_records"] == [1, 1]
    # Bad input is refused, typed, before anything is sent.
    assert found["bad_input"] == ["InvalidInputError"] * 8
    assert found["bad_input_sent_nothing"] is True
    # A failed job fails its input; resubmitting attaches to the failure...
    assert found["failed_ok"] == [False, False]
    assert found["failed_errors"] == ["JobFailedError", "JobFailedError"]
    assert found["resubmit_ok"] == [False, False]
    assert found["resubmit_no_new_job"] is True
    # ...and `retry_failed` runs it again on the same take with one new job each.
    assert found["retried_new_jobs"] == 2
    assert found["retried_new_takes"] == 0
    assert found["retried_same_takes"] is True
    assert found["retried_other_jobs"] is True
    assert found["job_failed_is_typed"] is True
    # The command line: a directory processed, then attached to; bad arguments are one line.
    cli = found["cli"]
    assert cli["runs"] == [
        {"code": 0, "ok": [True, True], "skipped": [False, False], "outputs": [1, 1]},
        {"code": 0, "ok": [True, True], "skipped": [True, True], "outputs": [1, 1]},
    ]
    codes = [(code, lines) for code, lines, _ in cli["refusals"]]
    assert codes == [(1, 1), (1, 1), (1, 1)]
    assert cli["refusals"][0][2].startswith("error: --temporal must be HOST:PORT")
    assert cli["refusals"][1][2].startswith("error: no videos (.mp4")
    assert cli["refusals"][2][2].startswith("error: cannot reach Temporal at 127.0.0.1:1")
    assert cli["key_printed"] is False


def test_three_workers_survive_kills_at_every_step_and_a_server_kill(tmp_path: Path) -> None:
    found = run_scenario("kills", tmp_path, limit=480)
    # Each step killed a worker exactly once (the ledger), and the server died once.
    assert found["steps_killed"] == ["create_job", "create_take", "download", "upload", "uploaded"]
    assert found["workers_killed"] == 5
    assert found["server_starts"] == 2
    assert found["server_killed_with_jobs"] >= 12
    assert found["results_before_server_kill"] < 30  # the server died mid-run
    # Every input finished...
    assert found["results"] == 30
    assert found["errors"] == []
    assert found["ok"] == 30
    # ...with exactly one take and one job each, as the emulator recorded them.
    assert found["takes"] == 30
    assert found["jobs"] == 30
    assert found["inputs_with_take"] == 30
    assert found["takes_per_input"] == [1]
    assert found["jobs_per_input"] == [1]
    # The object stored before the kill after its upload was found, not sent again (the
    # upload killed midway never completed its PUT).
    assert found["complete_puts"] == 30
    # Outputs byte for byte what the API serves, on the host asked for, no partial files.
    assert found["wrong_outputs"] == []
    assert found["outputs_where_asked"] is True
    assert found["uploads_where_held"] is True
    assert found["leftovers"] == []


def test_three_processes_share_one_budget_exactly(tmp_path: Path) -> None:
    found = run_scenario("budget", tmp_path, limit=240)
    limit, window = found["limit"], found["window"]
    assert found["clients"] == [
        {"calls": 10, "asked_budget": c["asked_budget"]} for c in found["clients"]
    ]
    assert found["arrivals"] == found["emulator_requests"] == 30
    assert found["throttled"] == 0
    # 30 requests, never more than `limit` arriving within any `window` seconds...
    assert found["max_in_window"] <= limit
    # ...so the budget held requests back across the processes: 30 > 3 * limit.
    assert found["spread"] > 3 * window


def test_configuration_is_refused_before_anything_connects(tmp_path: Path) -> None:
    found = run_scenario("validation", tmp_path, limit=60)
    assert found["refused"] == ["ConfigurationError"] * 9
    assert found["id_hides_key"] is True
    assert found["same_key_same_id"] is True
    assert found["other_key_other_id"] is True
    # Both budgets satisfy the protocol the client paces itself by.
    assert found["cluster_is_request_budget"] is True
    assert found["local_is_request_budget"] is True
    assert found["limit_window"] == [100, 60.0]
