"""Pydantic models of what the API returns and the inputs a user builds (the enums are in
`_enums`, re-exported here)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ._enums import (
    AreaType,
    JobState,
    MocapModel,
    OutputType,
    SourceFormat,
    TakeType,
)


def _decode_awsjson(value: Any) -> Any:
    """AWSJSON arrives as a JSON string; give the user the Python value it holds."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


Metadata = Annotated[Any, BeforeValidator(_decode_awsjson)]
"""AWSJSON decoded to Python values."""


class MoveModel(BaseModel):
    """Base of every model: camelCase on the wire, snake_case in Python, unknown fields kept."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        use_enum_values=False,
        # Validators are built on first use, not at import: most programs use a few models.
        defer_build=True,
    )


class Client(MoveModel):
    """The account an API key belongs to: its id, name, metadata and dates."""

    id: str
    name: str | None = None
    created: AwareDatetime | None = None
    metadata: Metadata = None
    portal: str | None = None


class File(MoveModel):
    """A file record: its type, name, metadata, and a presigned URL (PUT after `create`, GET
    after `retrieve`)."""

    id: str
    type: str | None = None
    name: str | None = None
    created: AwareDatetime | None = None
    metadata: Metadata = None
    presigned_url: str | None = Field(default=None, repr=False)
    """Upload URL right after `files.create`, download URL afterwards; null while not ready."""
    thumbnail_url: str | None = Field(default=None, repr=False)
    client: Client | None = None


class ShareCode(MoveModel):
    """A code and URL that let someone else download a file until `expires`."""

    code: str
    created: AwareDatetime | None = None
    expires: AwareDatetime | None = None
    url: str | None = Field(default=None, repr=False)
    file: File | None = None


class CameraSettings(MoveModel):
    """A camera's settings for multicam sources: its `lens` (see `ugc.camera_settings.list()`)."""

    lens: str


class Source(MoveModel):
    """One source of a take or volume as the API returns it: device label, file, format, camera
    settings."""

    device_label: str
    format: SourceFormat | str | None = None
    file: File | None = None
    camera_settings: CameraSettings | None = None


class AdditionalFile(MoveModel):
    """One output of a job (or an extra file of a take)."""

    file: File
    format: str | None = None
    key: str | None = None

    @property
    def output_type(self) -> OutputType | None:
        """The output's type when `key` or `format` is exactly its name (any case); other
        labels (`fbx`, a file name) are read by `transfers.outputs.output_candidates`."""
        for candidate in (self.key, self.format):
            if candidate:
                try:
                    return OutputType(candidate)
                except ValueError:
                    continue
        return None


class JobProgress(MoveModel):
    """Where a job stands: its `state` and `percentage_complete` (0-100 while RUNNING)."""

    state: JobState | str | None = None
    percentage_complete: int | None = None


class Rig(MoveModel):
    """A rig multicam jobs can animate (see `ugc.rigs.list()`)."""

    name: str


class ClipWindow(MoveModel):
    """The part of the video to process, in seconds."""

    start_time: float
    end_time: float


class JobOptions(MoveModel):
    """Options of a job; extra keys are passed through for options this SDK does not know yet."""

    floor_plane: bool | None = None
    mocap_model: MocapModel | None = None
    track_ball: bool | None = None
    track_fingers: bool | None = None
    track_jersey_numbers: bool | None = None


class JobInputs(MoveModel):
    clip_window: ClipWindow | None = None
    number_of_actors: int | None = None
    options: JobOptions | None = None


class ClapWindow(MoveModel):
    start_time: float
    end_time: float


class TimeCodeSync(MoveModel):
    use_timecode: bool


class SyncMethod(MoveModel):
    clap_window: ClapWindow | None = None
    timecode_sync: TimeCodeSync | None = None


class HumanVolume(MoveModel):
    """A human volume: the calibration multicam takes are made with (sources, height, area,
    state)."""

    id: str
    created: AwareDatetime | None = None
    name: str | None = None
    metadata: Metadata = None
    area_type: AreaType | str | None = None
    human_height: float | None = None
    state: JobState | str | None = None
    progress: JobProgress | None = None
    clip_window: ClipWindow | None = None
    client: Client | None = None
    sources: list[Source] | None = None
    outputs: list[AdditionalFile] | None = None


class Take(MoveModel):
    """A take: the sources (videos) one capture is made of, singlecam or multicam."""

    id: str
    created: AwareDatetime | None = None
    name: str | None = None
    metadata: Metadata = None
    take_type: TakeType | str | None = None
    client: Client | None = None
    sources: list[Source] | None = None
    video_file: File | None = None
    additional_files: list[AdditionalFile] | None = None
    volume: HumanVolume | None = None
    sync_method: SyncMethod | None = None


class Job(MoveModel):
    """A processing job of a take: its state and progress, its outputs once ready, and what it
    was made from."""

    id: str
    created: AwareDatetime | None = None
    name: str | None = None
    metadata: Metadata = None
    state: JobState | str | None = None
    """Deprecated by the API in favour of `progress.state`; filled for old readers."""
    progress: JobProgress | None = None
    client: Client | None = None
    take: Take | None = None
    outputs: list[AdditionalFile] | None = None
    rig: Rig | None = None
    inputs: JobInputs | None = None

    @property
    def current_state(self) -> JobState | str | None:
        """`progress.state`, falling back on the deprecated top-level `state`."""
        if self.progress is not None and self.progress.state is not None:
            return self.progress.state
        return self.state


class WebhookEndpoint(MoveModel):
    """A webhook endpoint: where deliveries go (`url`), for which `events`, and its secret on
    creation."""

    uid: str
    url: str
    events: list[str] | None = None
    description: str | None = None
    metadata: Metadata = None
    secret: str | None = Field(default=None, repr=False)
    """Only returned when the endpoint is first created."""
    client: Client | None = None


class SourceIn(MoveModel):
    """A source of a take as the user gives it (same fields as the sync SDK's `SourceIn`)."""

    device_label: str = Field(min_length=1)
    file_id: str
    format: SourceFormat
    camera_settings: CameraSettings | None = None


class SyncMethodIn(MoveModel):
    """How the videos of a multicam take are synchronised (clap window or timecode)."""

    clap_window: ClapWindow | None = None
    timecode_sync: TimeCodeSync | None = None


ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    """One page of a list: its items and the token of the next page (None on the last)."""

    model_config = ConfigDict(defer_build=True)

    items: list[ItemT]
    next_token: str | None = None
    first: int | None = None
