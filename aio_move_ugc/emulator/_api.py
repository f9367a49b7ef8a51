"""Resolvers of every Query and Mutation of the schema over the emulator's in-memory state."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import random
import re
import secrets
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from graphql import GraphQLResolveInfo

from ._limits import (
    ACTORS_MAX,
    ACTORS_MIN,
    HUMAN_HEIGHT_MAX,
    HUMAN_HEIGHT_MIN,
    LENSES,
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    RIGS,
    SHARE_CODE_LIFETIME,
    UPLOAD_FILE_TYPES,
    VOLUME_ID_PREFIX,
)
from ._outputs import formatted_output, output_content
from ._state import (
    MULTICAM_DEFAULT_OUTPUTS,
    OUTPUT_FILE_TYPES,
    SINGLECAM_DEFAULT_OUTPUTS,
    VIDEO_FORMATS,
    FileRecord,
    IdFactory,
    JobRecord,
    ShareCodeRecord,
    SourceRecord,
    State,
    TakeRecord,
    Timeline,
    VolumeRecord,
    WebhookEndpointRecord,
    iso,
    output_label,
    shown_metadata,
)

if TYPE_CHECKING:
    from ._config import EmulatorConfig, RecordFault
    from ._faults import Clock
    from ._stats import Stats
    from ._storage import Storage

View = dict[str, Any]

NOT_FOUND_MESSAGE = "Resource not found in move-ugc-api."
TWIN_MARK = "#"
"""Separates an output type from the tag of a second file of that type (`Hostility`)."""


class AppSyncError(Exception):
    """An error answered the way AppSync shapes it (`errorType`, `message`, `errorInfo`)."""

    def __init__(self, error_type: str, message: str, error_info: Any = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.error_info = error_info


def not_found() -> AppSyncError:
    return AppSyncError("MoveNotFoundError", NOT_FOUND_MESSAGE)


def bad_request(message: str) -> AppSyncError:
    return AppSyncError("BadRequestException", message)


WEBHOOK_SECRET_RE = re.compile(r"whsec_[A-Za-z0-9+/=]{32,100}")
"""What Svix accepts as an endpoint secret: `whsec_` and 32 to 100 base64 characters."""


def _check_webhook_secret(secret: str) -> None:
    """Refuse a secret that deliveries could not be signed with."""
    if not secret.startswith("whsec_"):
        raise bad_request("secret must start with whsec_.")
    if WEBHOOK_SECRET_RE.fullmatch(secret) is None:
        raise bad_request("secret must be whsec_ followed by 32 to 100 base64 characters.")
    try:
        base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error as exc:
        raise bad_request("secret must be whsec_ followed by valid base64.") from exc


class Api:
    """Root value for graphql-core: one method per root field, named as in the schema."""

    def __init__(
        self,
        *,
        state: State,
        storage: Storage,
        config: EmulatorConfig,
        clock: Clock,
        stats: Stats,
        ids: IdFactory,
        rng: random.Random,
        base_url: Callable[[], str],
        on_job_created: Callable[[JobRecord], None],
    ) -> None:
        self.state = state
        self.storage = storage
        self.config = config
        self.clock = clock
        self.stats = stats
        self.ids = ids
        self.rng = rng
        self.base_url = base_url
        self.on_job_created = on_job_created
        self._materializing: dict[str, asyncio.Lock] = {}
        self.record_faults: dict[str, RecordFault] = {}
        """Resolver faults per record id (see `Emulator.fail_record`)."""
        self._fault_uses: dict[str, int] = {}

    # ----------------------------------------------------------------- views
    def metadata(self, kind: str, value: str | None) -> str | None:
        """A record's `metadata` as the configured variant shows a missing one."""
        return shown_metadata(self.config.variants.missing_metadata, kind, value)

    def client_view(self) -> View:
        c = self.state.client
        return {
            "id": c.id,
            "name": c.name,
            "created": iso(c.created),
            "metadata": self.metadata("client", c.metadata),
            "portal": f"{self.base_url()}/portal/{c.id}",
        }

    def file_view(self, rec: FileRecord, *, upload: bool = False) -> View:
        def get_url() -> str:
            return self.storage.presign(
                "GET", rec.key, base_url=self.base_url(), ttl=self.config.url_ttl
            )

        async def materialized_url() -> str:
            await self._materialize(rec)
            return get_url()

        def presigned_url(info: GraphQLResolveInfo) -> Any:
            # A coroutine only while the output still has to be written: graphql-core drops
            # the pending fields of a query whose non-null root field failed, and a dropped
            # coroutine warns; a plain value does not.
            if upload:
                return self.storage.presign(
                    "PUT", rec.key, base_url=self.base_url(), ttl=self.config.url_ttl
                )
            if rec.ready_at is not None:
                if self.clock.monotonic() < rec.ready_at:
                    return None
                if not self.storage.exists(rec.key):
                    return materialized_url()
            return get_url()

        return {
            "id": rec.id,
            "type": rec.type,
            "name": rec.name,
            "metadata": self.metadata(
                "file" if rec.output_type is None else "output", rec.metadata
            ),
            "created": iso(rec.created),
            "presignedUrl": presigned_url,
            "thumbnailUrl": None,
            "client": lambda info: self.client_view(),
        }

    async def _materialize(self, rec: FileRecord) -> None:
        """Write a generated output to storage the first time its URL is handed out."""
        if self.storage.exists(rec.key):
            return
        lock = self._materializing.setdefault(rec.key, asyncio.Lock())
        async with lock:
            if not self.storage.exists(rec.key):
                await self.storage.write_object(rec.key, await self._output_bytes(rec))

    async def _output_bytes(self, rec: FileRecord) -> Iterable[bytes]:
        """The content of a generated output: noise of `output_size` bytes when that is set,
        else a file of the output's format, shaped by the job (clip window, actors, cameras)."""
        assert rec.job_id is not None
        assert rec.output_type is not None
        if self.config.output_size is not None:
            return output_content(rec.job_id, rec.output_type, self.config.output_size)
        job = self.state.jobs[rec.job_id]
        take = self.state.takes.get(job.take_id)
        cameras = tuple(s.device_label for s in take.sources) if take else ()
        # Off the loop: a video or MOTION_DATA takes 10-30 ms to write, a long clip more.
        data = await asyncio.to_thread(
            formatted_output,
            rec.job_id,
            rec.output_type,
            clip_window=job.clip_window,
            actors=job.number_of_actors or 1,
            cameras=cameras or ("camera-0",),
        )
        return (data,)

    def source_view(self, src: SourceRecord) -> View:
        file = self.state.files.get(src.file_id)
        return {
            "deviceLabel": src.device_label,
            "format": src.format,
            "file": self.file_view(file) if file else None,
            "cameraSettings": {"lens": src.lens} if src.lens else None,
        }

    def take_view(self, rec: TakeRecord) -> View:
        video = next((s for s in rec.sources if s.format in VIDEO_FORMATS), None)
        extra = [s for s in rec.sources if s.format not in VIDEO_FORMATS]
        volume = self.state.volumes.get(rec.volume_id) if rec.volume_id else None
        return {
            "id": rec.id,
            "created": iso(rec.created),
            "name": rec.name,
            "metadata": self.metadata("take", rec.metadata),
            "takeType": rec.take_type,
            "client": lambda info: self.client_view(),
            "sources": lambda info: [self.source_view(s) for s in rec.sources],
            "videoFile": lambda info: (
                self.file_view(self.state.files[video.file_id]) if video else None
            ),
            "additionalFiles": lambda info: [
                {
                    "format": s.format,
                    "key": s.format,
                    "file": self.file_view(self.state.files[s.file_id]),
                }
                for s in extra
            ],
            "volume": (lambda info: self.volume_view(volume)) if volume else None,
            "syncMethod": rec.sync_method,
        }

    def progress_view(self, timeline: Timeline) -> View:
        now = self.clock.monotonic()
        return {"state": timeline.state(now), "percentageComplete": timeline.percentage(now)}

    def job_view(self, rec: JobRecord) -> View:
        progress = self.progress_view(rec.timeline)
        take = self.state.takes.get(rec.take_id)

        def outputs(info: GraphQLResolveInfo) -> list[View]:
            if progress["state"] != "FINISHED":
                return []
            now = self.clock.monotonic()
            labels = self.config.variants.output_labels
            views: list[View] = []
            for output_type, file_id in self._output_files(rec).items():
                file = self.state.files[file_id]
                if file.listed_at is not None and now < file.listed_at:
                    continue
                kind, _, twin = output_type.partition(TWIN_MARK)
                label = output_label(labels, kind, file.type)
                if twin:  # a second file of one type, its label in the other case
                    label = label.swapcase()
                views.append({"format": label, "key": label, "file": self.file_view(file)})
            return views

        return {
            "id": rec.id,
            "created": iso(rec.created),
            "name": rec.name,
            "metadata": self.metadata("job", rec.metadata),
            "state": progress["state"],
            "progress": progress,
            "client": lambda info: self.client_view(),
            "take": (lambda info: self.take_view(take)) if take else None,
            "outputs": outputs,
            "rig": {"name": rec.rig} if rec.rig else None,
            "inputs": {
                "clipWindow": rec.clip_window,
                "numberOfActors": rec.number_of_actors,
                "options": rec.options,
            },
        }

    def _output_times(self, rec: JobRecord) -> list[tuple[float, float]]:
        """(listed from, downloadable from) of each output, as `Variants.readiness` plays it.

        Every variant has all outputs downloadable `output_lag` after the job finished; they
        differ in what a poll sees before that.
        """
        ends = rec.timeline.ends_at
        ready = rec.timeline.outputs_ready_at
        count = len(rec.outputs)
        readiness = self.config.variants.readiness
        if readiness == "one_by_one":
            steps = [ends + (ready - ends) * (i + 1) / count for i in range(count)]
            return [(step, step) for step in steps]
        if readiness == "all_at_once":
            return [(ready, ready)] * count
        return [(ends, ready)] * count

    def _output_files(self, rec: JobRecord) -> dict[str, str]:
        """The job's output file records, created once when first seen finished."""
        if not rec.output_files:
            times = self._output_times(rec)
            for output_type, (listed_at, ready_at) in zip(rec.outputs, times, strict=True):
                file_type = OUTPUT_FILE_TYPES[output_type]
                # Derived from the job, not drawn from the id stream: when a job is first seen
                # finished depends on timing, and must not shift the ids of later records.
                file_id = self.ids.derive("file", rec.id, output_type)
                self.state.files[file_id] = FileRecord(
                    id=file_id,
                    type=file_type,
                    key=f"outputs/{rec.id}/{file_id}.{file_type}",
                    created=self.clock.now(),
                    # Generated files carry a name (and, by default, JSON metadata): the
                    # published SDK's File model requires both to be strings and reads them on
                    # every job output.
                    name=f"{output_type.lower()}.{file_type}",
                    ready_at=ready_at,
                    listed_at=listed_at,
                    output_type=output_type,
                    job_id=rec.id,
                )
                rec.output_files[output_type] = file_id
            if rec.outputs and self._has_twin(rec):
                kind = rec.outputs[0]
                twin = f"{kind}{TWIN_MARK}twin"
                file_type = OUTPUT_FILE_TYPES[kind]
                original = self.state.files[rec.output_files[kind]]
                file_id = self.ids.derive("file", rec.id, twin)
                self.state.files[file_id] = FileRecord(
                    id=file_id,
                    type=file_type,
                    key=f"outputs/{rec.id}/{file_id}.{file_type}",
                    created=self.clock.now(),
                    name=f"{kind.lower()}.{file_type}",
                    ready_at=original.ready_at,
                    listed_at=original.listed_at,
                    output_type=twin,
                    job_id=rec.id,
                )
                rec.output_files[twin] = file_id
        return rec.output_files

    def _has_twin(self, rec: JobRecord) -> bool:
        """Whether the job lists a second file of its first output type (`Hostility`); drawn
        from the job, not the shared stream, so timing shifts nothing."""
        rate = self.config.hostility.twin_output_rate
        return rate > 0 and random.Random(f"{self.config.seed}/{rec.id}/twin").random() < rate

    def volume_view(self, rec: VolumeRecord) -> View:
        progress = self.progress_view(rec.timeline)
        return {
            "__typename": "HumanVolume",
            "id": rec.id,
            "areaType": rec.area_type,
            "clipWindow": rec.clip_window,
            "progress": progress,
            "state": progress["state"],
            "client": lambda info: self.client_view(),
            "created": iso(rec.created),
            "humanHeight": rec.human_height,
            "metadata": self.metadata("volume", rec.metadata),
            "name": rec.name,
            "outputs": [],
            "sources": lambda info: [self.source_view(s) for s in rec.sources],
        }

    # ---------------------------------------------------------------- helpers
    def _timeline(self, queue: float, duration: float, fails: bool, lag: float) -> Timeline:
        now = self.clock.monotonic()
        starts = now + queue
        ends = starts + duration
        return Timeline(
            created_mono=now,
            starts_at=starts,
            ends_at=ends,
            fails=fails,
            outputs_ready_at=ends + lag,
        )

    def _sources(self, raw: list[dict[str, Any]] | None, *, need_lens: bool) -> list[SourceRecord]:
        if not raw:
            raise bad_request("At least one source is required.")
        result = []
        for item in raw:
            file_id = item["fileId"]
            if file_id not in self.state.files:
                raise bad_request(f"Source file {file_id} does not exist.")
            lens = (item.get("cameraSettings") or {}).get("lens")
            if need_lens and not lens:
                raise bad_request(
                    f"Source {item['deviceLabel']!r} needs cameraSettings.lens for multicam."
                )
            if lens and lens not in LENSES:
                raise bad_request(f"Unknown lens {lens!r}; see listCameraSettings.")
            result.append(
                SourceRecord(
                    device_label=item["deviceLabel"],
                    file_id=file_id,
                    format=item["format"],
                    lens=lens,
                )
            )
        return result

    def _require_uploaded(self, sources: Iterable[SourceRecord], what: str) -> None:
        for src in sources:
            rec = self.state.files[src.file_id]
            if not self.storage.exists(rec.key):
                raise bad_request(
                    f"The {src.format} file {rec.id} of {what} has not been uploaded yet."
                )

    @staticmethod
    def _clip_window(raw: dict[str, Any] | None) -> dict[str, Any] | None:
        if raw is None:
            return None
        if not 0 <= raw["startTime"] < raw["endTime"]:
            raise bad_request("clipWindow.startTime must be >= 0 and before endTime.")
        return {"startTime": raw["startTime"], "endTime": raw["endTime"]}

    @staticmethod
    def _outputs(raw: list[str | None] | None, defaults: tuple[str, ...]) -> tuple[str, ...]:
        chosen = [o for o in raw or [] if o is not None]
        if not chosen:
            return defaults
        return tuple(dict.fromkeys(chosen))

    def _page(
        self,
        items: list[Any],
        view: Callable[[Any], View],
        first: int | None,
        after: str | None,
        direction: str | None,
    ) -> View:
        size = PAGE_SIZE_DEFAULT if first is None else first
        if not 1 <= size <= PAGE_SIZE_MAX:
            raise bad_request(f"first must be between 1 and {PAGE_SIZE_MAX}.")
        descending = (direction or "DESC") == "DESC"
        ordered = sorted(items, key=lambda r: (r.created, r.id), reverse=descending)
        start = 0
        if after is not None:
            try:
                cursor = json.loads(after)
                while isinstance(cursor, dict) and "resume" in cursor:
                    # The cursor of an empty page (`Hostility.empty_page_rate`): where it was.
                    after = cursor["resume"]
                    if after is None:
                        break
                    cursor = json.loads(after)
            except (ValueError, TypeError) as exc:
                raise bad_request("The after cursor is not valid.") from exc
        if after is not None:
            try:
                cursor = json.loads(after)
                position = (float(cursor["created"]), str(cursor["id"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise bad_request("The after cursor is not valid.") from exc
            start = len(ordered)
            for index, rec in enumerate(ordered):
                key = (rec.created, rec.id)
                if (key < position) if descending else (key > position):
                    start = index
                    break
        chunk = ordered[start : start + size]
        more = start + size < len(ordered)
        next_cursor = (
            json.dumps({"created": chunk[-1].created, "id": chunk[-1].id})
            if more and chunk
            else None
        )
        return {"first": size, "after": next_cursor, "items": [view(r) for r in chunk]}

    def _listed(self, records: list[Any]) -> list[Any]:
        """The records a list query shows: with `list_lag`, not those made within it."""
        lag = self.config.list_lag
        if not lag:
            return records
        shown_before = self.clock.now() - lag
        return [r for r in records if r.created <= shown_before]

    def _update(
        self, table: dict[str, Any], key: str, metadata: str | None, name: str | None
    ) -> Any:
        """What updateFile/updateTake/updateJob share: only metadata and name can change."""
        rec = self._get(table, key)
        if metadata is not None:
            rec.metadata = metadata
        if name is not None:
            rec.name = name
        return rec

    def _get(self, table: dict[str, Any], key: str) -> Any:
        rec = table.get(key)
        if rec is None:
            raise not_found()
        return rec

    # ---------------------------------------------------------------- queries
    def client(self, info: GraphQLResolveInfo) -> View:
        return self.client_view()

    def getFile(self, info: GraphQLResolveInfo, fileId: str) -> View:
        return self.file_view(self._get(self.state.files, fileId))

    def getJob(self, info: GraphQLResolveInfo, jobId: str) -> View:
        return self._faulted(jobId, self.job_view(self._get(self.state.jobs, jobId)))

    def getTake(self, info: GraphQLResolveInfo, takeId: str) -> View:
        return self.take_view(self._get(self.state.takes, takeId))

    def getVolume(self, info: GraphQLResolveInfo, id: str) -> View:
        return self._faulted(id, self.volume_view(self._get(self.state.volumes, id)))

    def _faulted(self, record_id: str, view: View) -> View:
        """The view of a record, or its fault as `Emulator.fail_record` set it."""
        fault = self.record_faults.get(record_id)
        if fault is None:
            return view
        error = AppSyncError(fault.error_type, fault.message)
        if fault.field is None:
            self._use_fault(record_id, fault)
            raise error

        def failing(info: GraphQLResolveInfo) -> Any:
            self._use_fault(record_id, fault)
            raise error

        return {**view, fault.field: failing}

    def _use_fault(self, record_id: str, fault: RecordFault) -> None:
        self.stats.faults[f"record {fault.error_type}"] += 1
        if fault.times is None:
            return
        used = self._fault_uses.get(record_id, 0) + 1
        self._fault_uses[record_id] = used
        if used >= fault.times:
            self.record_faults.pop(record_id, None)
            self._fault_uses.pop(record_id, None)

    def listCameraSettings(self, info: GraphQLResolveInfo) -> View:
        return {"first": len(LENSES), "after": None, "items": [{"lens": lens} for lens in LENSES]}

    def listRigs(self, info: GraphQLResolveInfo) -> View:
        return {"first": len(RIGS), "after": None, "items": [{"name": name} for name in RIGS]}

    def listJobs(
        self,
        info: GraphQLResolveInfo,
        first: int | None = None,
        after: str | None = None,
        sortDirection: str | None = None,
        takeId: str | None = None,
    ) -> View:
        jobs = [j for j in self.state.jobs.values() if takeId is None or j.take_id == takeId]
        return self._page(self._listed(jobs), self.job_view, first, after, sortDirection)

    def listTakes(
        self,
        info: GraphQLResolveInfo,
        first: int | None = None,
        after: str | None = None,
        sortDirection: str | None = None,
    ) -> View:
        takes = list(self.state.takes.values())
        return self._page(self._listed(takes), self.take_view, first, after, sortDirection)

    def listVolumes(
        self,
        info: GraphQLResolveInfo,
        first: int | None = None,
        after: str | None = None,
        sortDirection: str | None = None,
    ) -> View:
        volumes = list(self.state.volumes.values())
        return self._page(self._listed(volumes), self.volume_view, first, after, sortDirection)

    # -------------------------------------------------------------- mutations
    def createFile(
        self,
        info: GraphQLResolveInfo,
        type: str,
        metadata: str | None = None,
        name: str | None = None,
    ) -> View:
        file_type = type.strip().lower().lstrip(".")
        if file_type not in UPLOAD_FILE_TYPES:
            raise bad_request(
                f"File type {type!r} is not supported; use one of {sorted(UPLOAD_FILE_TYPES)}."
            )
        file_id = self.ids.new("file")
        rec = FileRecord(
            id=file_id,
            type=file_type,
            key=f"uploads/{self.ids.uuid('upload')}.{file_type}",
            created=self.clock.now(),
            name=name,
            metadata=metadata,
        )
        self.state.files[file_id] = rec
        return self.file_view(rec, upload=True)

    def updateFile(
        self,
        info: GraphQLResolveInfo,
        id: str,
        metadata: str | None = None,
        name: str | None = None,
    ) -> View:
        return self.file_view(self._update(self.state.files, id, metadata, name))

    def generateShareCode(self, info: GraphQLResolveInfo, fileId: str) -> View:
        rec: FileRecord = self._get(self.state.files, fileId)
        if not self.storage.exists(rec.key) and rec.ready_at is None:
            raise bad_request(f"File {fileId} has no content to share yet.")
        code = base64.b32encode(self.ids.token(10)).decode().rstrip("=")
        now = self.clock.now()
        share = ShareCodeRecord(
            code=code, file_id=rec.id, created=now, expires=now + SHARE_CODE_LIFETIME
        )
        self.state.share_codes[code] = share
        return {
            "code": code,
            "created": iso(share.created),
            "expires": iso(share.expires),
            "url": f"{self.base_url()}/share/{code}",
            "file": self.file_view(rec),
        }

    def createSingleCamTake(
        self,
        info: GraphQLResolveInfo,
        sources: list[dict[str, Any]] | None = None,
        metadata: str | None = None,
        name: str | None = None,
    ) -> View:
        recs = self._sources(sources, need_lens=False)
        videos = [s for s in recs if s.format in VIDEO_FORMATS]
        if len(videos) != 1:
            raise bad_request(
                "A singlecam take needs exactly one video source (MP4, MOV or AVI); "
                f"got {len(videos)}."
            )
        for extra in recs:
            if extra.format == "MOVE" and extra.device_label != videos[0].device_label:
                raise bad_request("A MOVE source must have the same deviceLabel as the video.")
        if sum(1 for s in recs if s.format == "MOVE") > 1:
            raise bad_request("A singlecam take takes at most one MOVE source.")
        rec = TakeRecord(
            id=self.ids.new("take"),
            take_type="SINGLE_CAM",
            sources=recs,
            created=self.clock.now(),
            name=name,
            metadata=metadata,
        )
        self.state.takes[rec.id] = rec
        return self.take_view(rec)

    def createMultiCamTake(
        self,
        info: GraphQLResolveInfo,
        volumeId: str,
        sources: list[dict[str, Any]] | None = None,
        syncMethod: dict[str, Any] | None = None,
        metadata: str | None = None,
        name: str | None = None,
    ) -> View:
        volume: VolumeRecord | None = self.state.volumes.get(volumeId)
        if volume is None:
            raise not_found()
        if volume.timeline.state(self.clock.monotonic()) != "FINISHED":
            raise bad_request(f"Volume {volumeId} is not FINISHED yet.")
        recs = self._sources(sources, need_lens=True)
        if len([s for s in recs if s.format in VIDEO_FORMATS]) < 2:
            raise bad_request("A multicam take needs video sources from at least two cameras.")
        rec = TakeRecord(
            id=self.ids.new("take"),
            take_type="MULTI_CAM",
            sources=recs,
            created=self.clock.now(),
            name=name,
            metadata=metadata,
            volume_id=volumeId,
            sync_method=syncMethod,
        )
        self.state.takes[rec.id] = rec
        return self.take_view(rec)

    def updateTake(
        self,
        info: GraphQLResolveInfo,
        id: str,
        metadata: str | None = None,
        name: str | None = None,
    ) -> View:
        return self.take_view(self._update(self.state.takes, id, metadata, name))

    def _new_job(
        self,
        take: TakeRecord,
        *,
        outputs: tuple[str, ...],
        name: str | None,
        metadata: str | None,
        options: dict[str, Any] | None,
        clip_window: dict[str, Any] | None,
        number_of_actors: int | None = None,
        rig: str | None = None,
    ) -> View:
        self._require_uploaded(take.sources, f"take {take.id}")
        fails = self.rng.random() < self.config.failure_rate
        timeline = self._timeline(
            self.config.job_queue_delay, self.config.job_duration, fails, self.config.output_lag
        )
        rec = JobRecord(
            id=self.ids.new("job"),
            take_id=take.id,
            job_type=take.take_type,
            outputs=outputs,
            created=self.clock.now(),
            timeline=timeline,
            name=name,
            metadata=metadata,
            options=options,
            clip_window=clip_window,
            number_of_actors=number_of_actors,
            rig=rig,
        )
        self.state.jobs[rec.id] = rec
        self.on_job_created(rec)
        return self.job_view(rec)

    def createSingleCamJob(
        self,
        info: GraphQLResolveInfo,
        takeId: str,
        clipWindow: dict[str, Any] | None = None,
        metadata: str | None = None,
        name: str | None = None,
        options: dict[str, Any] | None = None,
        outputs: list[str | None] | None = None,
    ) -> View:
        take: TakeRecord = self._get(self.state.takes, takeId)
        if take.take_type != "SINGLE_CAM":
            raise bad_request(f"Take {takeId} is a multicam take; use createMultiCamJob.")
        return self._new_job(
            take,
            outputs=self._outputs(outputs, SINGLECAM_DEFAULT_OUTPUTS),
            name=name,
            metadata=metadata,
            options=options,
            clip_window=self._clip_window(clipWindow),
        )

    def createMultiCamJob(
        self,
        info: GraphQLResolveInfo,
        takeId: str,
        clipWindow: dict[str, Any] | None = None,
        metadata: str | None = None,
        name: str | None = None,
        numberOfActors: int | None = None,
        options: dict[str, Any] | None = None,
        outputs: list[str | None] | None = None,
        rig: str | None = None,
    ) -> View:
        take: TakeRecord = self._get(self.state.takes, takeId)
        if take.take_type != "MULTI_CAM":
            raise bad_request(f"Take {takeId} is a singlecam take; use createSingleCamJob.")
        actors = 1 if numberOfActors is None else numberOfActors
        if not ACTORS_MIN <= actors <= ACTORS_MAX:
            raise bad_request(f"numberOfActors must be between {ACTORS_MIN} and {ACTORS_MAX}.")
        rig_name = rig or "move_mo"
        if rig_name not in RIGS:
            raise bad_request(f"Unknown rig {rig_name!r}; see listRigs.")
        return self._new_job(
            take,
            outputs=self._outputs(outputs, MULTICAM_DEFAULT_OUTPUTS),
            name=name,
            metadata=metadata,
            options=options,
            clip_window=self._clip_window(clipWindow),
            number_of_actors=actors,
            rig=rig_name,
        )

    def updateJob(
        self,
        info: GraphQLResolveInfo,
        id: str,
        metadata: str | None = None,
        name: str | None = None,
    ) -> View:
        return self.job_view(self._update(self.state.jobs, id, metadata, name))

    def createVolumeWithHuman(
        self,
        info: GraphQLResolveInfo,
        humanHeight: float,
        areaType: str,
        clipWindow: dict[str, Any] | None = None,
        sources: list[dict[str, Any]] | None = None,
        syncMethod: dict[str, Any] | None = None,
        metadata: str | None = None,
        name: str | None = None,
    ) -> View:
        recs = self._sources(sources, need_lens=True)
        if len(recs) < 2:
            raise bad_request("A human volume needs sources from at least two cameras.")
        if not HUMAN_HEIGHT_MIN <= humanHeight <= HUMAN_HEIGHT_MAX:
            raise bad_request(
                "humanHeight is in metres and must be between "
                f"{HUMAN_HEIGHT_MIN} and {HUMAN_HEIGHT_MAX}."
            )
        self._require_uploaded(recs, "the volume")
        rec = VolumeRecord(
            id=self.ids.new(VOLUME_ID_PREFIX),
            sources=recs,
            human_height=humanHeight,
            area_type=areaType,
            created=self.clock.now(),
            timeline=self._timeline(0.0, self.config.volume_duration, False, 0.0),
            name=name,
            metadata=metadata,
            clip_window=self._clip_window(clipWindow),
            sync_method=syncMethod,
        )
        self.state.volumes[rec.id] = rec
        return self.volume_view(rec)

    def updateClient(self, info: GraphQLResolveInfo, metadata: str) -> View:
        self.state.client.metadata = metadata
        return self.client_view()

    def upsertWebhookEndpoint(
        self,
        info: GraphQLResolveInfo,
        uid: str,
        url: str,
        description: str | None = None,
        events: list[str] | None = None,
        metadata: str | None = None,
        secret: str | None = None,
    ) -> View:
        if not url.startswith(("http://", "https://")):
            raise bad_request("url must be an http(s) URL.")
        if secret is not None:
            _check_webhook_secret(secret)
        existing = self.state.webhooks.get(uid)
        if existing is None:
            rec = WebhookEndpointRecord(
                uid=uid,
                url=url,
                events=list(events or []),
                secret=secret or "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
                description=description,
                metadata=metadata,
            )
            self.state.webhooks[uid] = rec
            shown_secret: str | None = rec.secret
        else:
            rec = existing
            rec.url = url
            if events is not None:
                rec.events = list(events)
            if description is not None:
                rec.description = description
            if metadata is not None:
                rec.metadata = metadata
            if secret is not None:
                rec.secret = secret
            shown_secret = None  # the secret is only shown when the endpoint is created
        return {
            "uid": rec.uid,
            "url": rec.url,
            "events": rec.events,
            "description": rec.description,
            "metadata": self.metadata("webhook", rec.metadata),
            "secret": shown_secret,
            "client": lambda info: self.client_view(),
        }
