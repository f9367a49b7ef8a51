"""Every public name of the package has a docstring, and every parameter is named in one.

The names reachable from `aio_move_ugc.__all__` (and `aio_move_ugc.testing.__all__`), the
resource classes behind `ugc.files`, `ugc.jobs`... and their public methods are walked by
`_docstrings.undocumented()`. What lacks documentation today is listed in `KNOWN_MISSING`; the
list may only shrink: a name that gains its docstring must leave the list, or this test fails.
"""

from __future__ import annotations

from ._docstrings import public_objects, resource_classes, undocumented

KNOWN_MISSING = {
    "AreaType",
    "CameraSettings",
    "Client",
    "File",
    "HumanVolume",
    "Job",
    "JobFailed",
    "JobFinished",
    "JobProgress",
    "JobState.is_terminal",
    "JobStateChanged",
    "Jobs.create_multicam(clip_window)",
    "Jobs.create_multicam(expand)",
    "Jobs.create_multicam(metadata)",
    "Jobs.create_multicam(name)",
    "Jobs.create_multicam(number_of_actors)",
    "Jobs.create_multicam(options)",
    "Jobs.create_multicam(outputs)",
    "Jobs.create_multicam(take_id)",
    "Jobs.create_singlecam(clip_window)",
    "Jobs.create_singlecam(expand)",
    "Jobs.create_singlecam(metadata)",
    "Jobs.create_singlecam(name)",
    "Jobs.create_singlecam(options)",
    "Jobs.create_singlecam(take_id)",
    "Jobs.download_outputs(interval)",
    "Jobs.download_outputs(job_id)",
    "Jobs.download_outputs(progress)",
    "Jobs.list(expand)",
    "Jobs.list(limit)",
    "Jobs.list(next_token)",
    "Jobs.list(sort_by)",
    "Jobs.list(take_id)",
    "Jobs.retrieve",
    "Jobs.retrieve(expand)",
    "Jobs.retrieve(id)",
    "Jobs.update",
    "Jobs.update(expand)",
    "Jobs.update(id)",
    "Jobs.update(metadata)",
    "Jobs.update(name)",
    "Jobs.wait(interval)",
    "Jobs.wait(job_id)",
    "Jobs.wait(max_interval)",
    "Jobs.wait(until)",
    "Jobs.watch(job_id)",
    "Jobs.watch_many(interval)",
    "Jobs.watch_many(job_ids)",
    "Jobs.watch_many(max_interval)",
    "Jobs.watch_many(raise_on_failure)",
    "Jobs.watch_many(timeout)",
    "Jobs.watch_many(until)",
    "Rig",
    "ShareCode",
    "SortDirection",
    "Source",
    "SyncMethodIn",
    "Take",
    "VolumeStateChanged",
    "WebhookEndpoint",
}
"""Public names without a docstring, and parameters no docstring mentions, as of today."""


def test_the_walk_reaches_every_resource() -> None:
    names = {cls.__name__ for cls in resource_classes()}
    assert {"Files", "Takes", "Jobs", "Volumes", "Webhooks", "Rigs", "Bulk"} <= names
    assert "AsyncMoveUgc" in public_objects()
    assert "aio_move_ugc.testing.EmulatorThread" in public_objects()


def test_no_new_name_lacks_documentation() -> None:
    new = undocumented() - KNOWN_MISSING
    assert not new, "document these (public names need docstrings):\n" + "\n".join(sorted(new))


def test_the_known_missing_list_is_still_accurate() -> None:
    fixed = KNOWN_MISSING - undocumented()
    assert not fixed, "now documented, remove from KNOWN_MISSING:\n" + "\n".join(sorted(fixed))


def test_the_testing_kit_is_fully_documented() -> None:
    assert not {name for name in KNOWN_MISSING if name.startswith("aio_move_ugc.testing")}
