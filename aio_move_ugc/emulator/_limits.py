"""Rules the emulator invents: limits the hosted service was never seen to enforce, in one place.

The hosted API surely refuses some inputs, but which and where is not published. The emulator
picks plausible limits so that bad input gets an error instead of silently working; each one is
named here, listed in `INVENTED_LIMITS` and described in docs/emulator-assumptions.md. A client
must not copy them: they are the emulator's, not the service's.
"""

from __future__ import annotations

from dataclasses import dataclass

PAGE_SIZE_DEFAULT = 50
"""Items in a page of listTakes/listJobs/listVolumes when `first` is not given."""
PAGE_SIZE_MAX = 100
"""Largest `first` a list query accepts (1 to this)."""
HUMAN_HEIGHT_MIN = 0.5
"""Smallest `humanHeight` (metres) createVolumeWithHuman accepts."""
HUMAN_HEIGHT_MAX = 2.5
"""Largest `humanHeight` (metres) createVolumeWithHuman accepts."""
ACTORS_MIN = 1
"""Fewest `numberOfActors` createMultiCamJob accepts."""
ACTORS_MAX = 10
"""Most `numberOfActors` createMultiCamJob accepts."""
LENSES = (
    "goprohero10-2-7k",
    "blackmagic-ea-4k-24mm",
    "sony-synced-fhd",
    "panasonic-lumix-dc-bgh1-4k-12mm",
    "optitrackprimecolor12mm-fhd",
)
"""What listCameraSettings answers, and the only `cameraSettings.lens` values sources may use
(the published SDK's examples; the real list is longer and changes)."""
RIGS = ("move_mo", "move_ue5", "move_ue4", "move_unity", "move_mixamo")
"""What listRigs answers, and the only `rig` values createMultiCamJob accepts (`move_mo`, the
default, is documented; the others are guesses)."""
UPLOAD_FILE_TYPES = frozenset({"mp4", "mov", "avi", "move"})
"""The `type` values createFile accepts (case and a leading dot ignored)."""
SHARE_CODE_LIFETIME = 7 * 24 * 3600.0
"""Seconds a share code from generateShareCode stays valid."""
VOLUME_ID_PREFIX = "volume"
"""Volumes get ids `volume-<uuid>`. The schema says a volume's id "is the volume job id", so the
hosted service may well hand out `job-<uuid>` ids for volumes: clients must not judge ids by
their prefix."""


@dataclass(frozen=True)
class InventedLimit:
    """One invented rule: its constant's name, its value and what it restricts."""

    name: str
    value: object
    rule: str


INVENTED_LIMITS: tuple[InventedLimit, ...] = (
    InventedLimit("PAGE_SIZE_DEFAULT", PAGE_SIZE_DEFAULT, "page size when `first` is omitted"),
    InventedLimit("PAGE_SIZE_MAX", PAGE_SIZE_MAX, "`first` of list queries is 1 to this"),
    InventedLimit("HUMAN_HEIGHT_MIN", HUMAN_HEIGHT_MIN, "smallest humanHeight in metres"),
    InventedLimit("HUMAN_HEIGHT_MAX", HUMAN_HEIGHT_MAX, "largest humanHeight in metres"),
    InventedLimit("ACTORS_MIN", ACTORS_MIN, "fewest numberOfActors of a multicam job"),
    InventedLimit("ACTORS_MAX", ACTORS_MAX, "most numberOfActors of a multicam job"),
    InventedLimit("LENSES", LENSES, "the only accepted cameraSettings.lens values"),
    InventedLimit("RIGS", RIGS, "the only accepted rig names"),
    InventedLimit("UPLOAD_FILE_TYPES", UPLOAD_FILE_TYPES, "accepted createFile types"),
    InventedLimit("SHARE_CODE_LIFETIME", SHARE_CODE_LIFETIME, "seconds a share code lives"),
    InventedLimit("VOLUME_ID_PREFIX", VOLUME_ID_PREFIX, "volumes are ids `volume-<uuid>`"),
)
"""Every rule above, for documentation and tests."""
