"""The emulator's in-memory records (client, files, takes, jobs, volumes) and their life cycles."""

from __future__ import annotations

import hashlib
import random
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

JobStateName = Literal["NOT_STARTED", "RUNNING", "FINISHED", "FAILED"]

VIDEO_FORMATS = frozenset({"MP4", "MOV", "AVI"})

SINGLECAM_DEFAULT_OUTPUTS = (
    "RENDER_VIDEO",
    "MAIN_FBX",
    "MAIN_USDC",
    "MAIN_USDZ",
    "MAIN_BLEND",
    "MOTION_DATA",
    "RENDER_OVERLAY_VIDEO",
)
MULTICAM_DEFAULT_OUTPUTS = SINGLECAM_DEFAULT_OUTPUTS[:-1]

OUTPUT_FILE_TYPES = {
    "ALL_BLEND": "zip",
    "ALL_BVH": "zip",
    "ALL_C3D": "zip",
    "ALL_FBX": "zip",
    "ALL_GLB": "zip",
    "ALL_USDC": "zip",
    "ALL_USDZ": "zip",
    "MAIN_BLEND": "blend",
    "MAIN_FBX": "fbx",
    "MAIN_GLB": "glb",
    "MAIN_USDC": "usdc",
    "MAIN_USDZ": "usdz",
    "MOTION_DATA": "json",
    "RENDER_OVERLAY_VIDEO": "mp4",
    "RENDER_VIDEO": "mp4",
    "SYNC_DATA": "json",
}


def iso(ts: float) -> str:
    """AWSDateTime as AppSync writes it: UTC, milliseconds, `Z`."""
    moment = datetime.fromtimestamp(ts, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class IdFactory:
    """IDs shaped like the real ones (`job-<uuid4>`): unique to this emulator, or repeated
    run after run when it was given a seed.

    Each kind (`job`, `take`, `file`...) counts on its own, and its name goes into every id,
    so no UUID is ever both a take and a job, and the ids of one kind do not shift when
    another kind is made more often. Without a seed, a random salt keeps two emulators (two
    runs into one folder) from issuing the same ids.
    """

    def __init__(self, seed: int | None) -> None:
        self._salt = secrets.token_hex(16) if seed is None else f"seed {seed}"
        self._counts: dict[str, int] = {}
        self._tokens = random.Random(f"{self._salt}/tokens")

    def uuid(self, kind: str) -> str:
        """The next UUID of `kind`."""
        count = self._counts.get(kind, 0)
        self._counts[kind] = count + 1
        digest = hashlib.sha256(f"{self._salt}\x00{kind}\x00{count}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def new(self, prefix: str) -> str:
        return f"{prefix}-{self.uuid(prefix)}"

    def token(self, nbytes: int = 16) -> bytes:
        return self._tokens.randbytes(nbytes)

    @staticmethod
    def derive(prefix: str, *parts: str) -> str:
        """An id fixed by `parts` (themselves unique ids) and its kind; it leaves the counts
        untouched."""
        digest = hashlib.sha256("\x00".join((prefix, *parts)).encode()).digest()[:16]
        return f"{prefix}-{uuid.UUID(bytes=digest, version=4)}"


@dataclass
class ClientRecord:
    id: str
    name: str
    created: float
    metadata: str | None = None
    """None until set; how a missing value reads depends on `Variants.missing_metadata` (by
    default `"{}"`: the published SDK's Client model requires a JSON string there)."""


@dataclass
class FileRecord:
    id: str
    type: str
    key: str
    created: float
    name: str | None = None
    metadata: str | None = None
    ready_at: float | None = None
    """Monotonic time after which an output file has a download URL (None: an upload)."""
    listed_at: float | None = None
    """Monotonic time from which a job lists this output (None: an upload)."""
    output_type: str | None = None
    job_id: str | None = None


@dataclass
class SourceRecord:
    device_label: str
    file_id: str
    format: str
    lens: str | None = None


@dataclass
class TakeRecord:
    id: str
    take_type: Literal["SINGLE_CAM", "MULTI_CAM"]
    sources: list[SourceRecord]
    created: float
    name: str | None = None
    metadata: str | None = None
    volume_id: str | None = None
    sync_method: dict[str, Any] | None = None


@dataclass
class Timeline:
    """Times (monotonic) at which a simulated job or volume changes state."""

    created_mono: float
    starts_at: float
    ends_at: float
    fails: bool
    outputs_ready_at: float

    def state(self, now: float) -> JobStateName:
        if now < self.starts_at:
            return "NOT_STARTED"
        if now < self.ends_at:
            return "RUNNING"
        return "FAILED" if self.fails else "FINISHED"

    def percentage(self, now: float) -> int:
        if now < self.starts_at:
            return 0
        if now >= self.ends_at:
            return 0 if self.fails else 100
        span = self.ends_at - self.starts_at
        return min(99, int(100 * (now - self.starts_at) / span)) if span > 0 else 99


@dataclass
class JobRecord:
    id: str
    take_id: str
    job_type: Literal["SINGLE_CAM", "MULTI_CAM"]
    outputs: tuple[str, ...]
    created: float
    timeline: Timeline
    name: str | None = None
    metadata: str | None = None
    options: dict[str, Any] | None = None
    clip_window: dict[str, Any] | None = None
    number_of_actors: int | None = None
    rig: str | None = None
    output_files: dict[str, str] = field(default_factory=dict)
    """OutputType -> file id, filled when the job finishes."""


@dataclass
class VolumeRecord:
    id: str
    sources: list[SourceRecord]
    human_height: float
    area_type: str
    created: float
    timeline: Timeline
    name: str | None = None
    metadata: str | None = None
    clip_window: dict[str, Any] | None = None
    sync_method: dict[str, Any] | None = None


@dataclass
class WebhookEndpointRecord:
    uid: str
    url: str
    events: list[str]
    secret: str
    description: str | None = None
    metadata: str | None = None


@dataclass
class ShareCodeRecord:
    code: str
    file_id: str
    created: float
    expires: float


@dataclass
class State:
    """Everything the emulated account holds."""

    client: ClientRecord
    files: dict[str, FileRecord] = field(default_factory=dict)
    takes: dict[str, TakeRecord] = field(default_factory=dict)
    jobs: dict[str, JobRecord] = field(default_factory=dict)
    volumes: dict[str, VolumeRecord] = field(default_factory=dict)
    webhooks: dict[str, WebhookEndpointRecord] = field(default_factory=dict)
    share_codes: dict[str, ShareCodeRecord] = field(default_factory=dict)


EMPTY_JSON_WHEN_MIXED = frozenset({"client", "job", "output"})
"""Records whose missing metadata reads `"{}"` in the "mixed" variant (what the published SDK
needs: its Client, Job and File models require a JSON string; outputs are Files)."""


def shown_metadata(mode: str, kind: str, value: str | None) -> str | None:
    """What a record's `metadata` reads as under `Variants.missing_metadata` == `mode`.

    `kind` is "client", "file" (uploaded), "output" (generated file), "take", "job", "volume"
    or "webhook". A value that was given is always shown as given.
    """
    if value is not None:
        return value
    if mode == "empty_json" or (mode == "mixed" and kind in EMPTY_JSON_WHEN_MIXED):
        return "{}"
    return None


def output_label(labels: str, output_type: str, extension: str) -> str:
    """An output's `format` and `key` under `Variants.output_labels` == `labels`.

    `extension` is the type of the output's file (what `OUTPUT_FILE_TYPES` gives it).
    """
    if labels == "lower":
        return output_type.lower()
    if labels == "extension":
        return extension
    return output_type
