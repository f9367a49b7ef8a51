"""Every public name of the package has a docstring, and every parameter is named in one.

The names reachable from `aio_move_ugc.__all__` (and `aio_move_ugc.testing.__all__`), the
resource classes behind `ugc.files`, `ugc.jobs`... and their public methods are walked by
`_docstrings.undocumented()`. Nothing may lack documentation: `KNOWN_MISSING` is empty and
stays so (a new gap fails `test_no_new_name_lacks_documentation`).
"""

from __future__ import annotations

from ._docstrings import public_objects, resource_classes, undocumented

KNOWN_MISSING: set[str] = set()
"""Public names without a docstring, and parameters no docstring mentions: none."""


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
