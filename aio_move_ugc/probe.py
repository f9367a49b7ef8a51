"""The probe: observes what the emulator only assumes about the hosted service, within a stated
request budget, and says which of the emulator's variants plays it.

`probe()` sends its own small GraphQL documents through the SDK's transport (one try per
request, no retries of its own but after a throttled answer, each request counted by the
`on_request` hook and refused before it would pass the budget). By default it sends read-only
queries and creates one file record, which it never uploads to (a record costs no credits; a
job does). `with_job=VIDEO` spends exactly one job on VIDEO to watch readiness, labels and
timings. Its `ProbeReport` holds no key, token, signed URL or record id: what the service
answered is reduced to shapes (a label, `null` or `"{}"`, a status, an error type, a lifetime).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from . import _validation as check
from ._clock import Clock, LoopClock
from ._exceptions import (
    APIError,
    ConfigurationError,
    InvalidInputError,
    MoveUgcError,
    RateLimitError,
)
from ._redact import Secret, redact_url
from ._retry import Retrier, RetryPolicy
from ._schema.operations import Operation
from ._transport import GraphQLTransport, Timeout
from .emulator import INVENTED_LIMITS, THROTTLE_ERROR_TYPES, VARIANTS, EmulatorConfig, Variants
from .observability import RequestEvent
from .transfers.naming import OUTPUT_SUFFIXES
from .transfers.outputs import SINGLECAM_DEFAULT_OUTPUTS
from .transfers.upload import check_upload_source
from .types import OutputType

REPORT_FORMAT = "aio-move-ugc/probe-report"
REPORT_VERSION = 1
DEFAULT_BUDGET = 50
MAX_BUDGET = 500
READ_ONLY_REQUESTS = 10
"""The read-only queries the probe may send (the second page of jobs only when there is one)."""
JOB_REQUESTS = 3
"""createFile, createSingleCamTake and createSingleCamJob of `with_job`."""
MIN_POLLS = 4
"""Polls of the probe's job it needs at least: a budget that leaves fewer is refused."""

Confidence = Literal["observed", "inferred", "not_observed"]
CONFIDENCE_WORDS = {
    "observed": "observed directly",
    "inferred": "inferred",
    "not_observed": "not observed",
}
NEEDS_JOB = "not observable without a job: run again with --with-job VIDEO"
MISSING_JOB_ID = "job-00000000-0000-4000-8000-000000000000"
"""An id no job has: the probe asks for it to see how a missing record is answered."""
RECORD_ID = re.compile(r"\b(job|file|take|volume|client|webhook)-[0-9A-Za-z][0-9A-Za-z-]{7,}")
"""A record's id, wherever the service may have put one (an output's key, a label)."""
LIMITS: dict[str, Any] = {limit.name: limit.value for limit in INVENTED_LIMITS}


# ------------------------------------------------------------------ documents
def _op(name: str, root: str, document: str, creates: str | None = None) -> Operation:
    return Operation(name=name, document=" ".join(document.split()), root=root, creates=creates)


OUTPUTS = "outputs { key format file { type metadata presignedUrl } }"
DOCUMENTS: dict[str, Operation] = {
    op.name: op
    for op in (
        _op("ProbeClient", "client", "query ProbeClient { client { metadata } }"),
        _op(
            "ProbeJobs",
            "listJobs",
            "query ProbeJobs($first: Int) { listJobs(first: $first) "
            f"{{ first after items {{ state metadata {OUTPUTS} }} }} }}",
        ),
        _op(
            "ProbeJobsAfter",
            "listJobs",
            "query ProbeJobsAfter($after: AWSJSON) { listJobs(first: 1, after: $after) "
            "{ items { state } } }",
        ),
        _op(
            "ProbeJobsDefaultPage",
            "listJobs",
            "query ProbeJobsDefaultPage { listJobs { first after items { state } } }",
        ),
        _op(
            "ProbeJobsLargePage",
            "listJobs",
            "query ProbeJobsLargePage($first: Int) { listJobs(first: $first) "
            "{ first items { state } } }",
        ),
        _op(
            "ProbeTakes",
            "listTakes",
            "query ProbeTakes { listTakes(first: 5) { items { metadata } } }",
        ),
        _op(
            "ProbeVolumes",
            "listVolumes",
            "query ProbeVolumes { listVolumes(first: 5) "
            "{ items { ... on HumanVolume { id metadata } } } }",
        ),
        _op("ProbeRigs", "listRigs", "query ProbeRigs { listRigs { items { name } } }"),
        _op(
            "ProbeLenses",
            "listCameraSettings",
            "query ProbeLenses { listCameraSettings { items { lens } } }",
        ),
        _op(
            "ProbeMissingJob",
            "getJob",
            "query ProbeMissingJob($jobId: ID!) { getJob(jobId: $jobId) { state } }",
        ),
        _op(
            "ProbeCreateFile",
            "createFile",
            "mutation ProbeCreateFile($type: String!) { createFile(type: $type) "
            "{ id created metadata presignedUrl } }",
            creates="file",
        ),
        _op(
            "ProbeCreateTake",
            "createSingleCamTake",
            "mutation ProbeCreateTake($sources: [SourceInput!]) "
            "{ createSingleCamTake(sources: $sources) { id metadata } }",
            creates="take",
        ),
        _op(
            "ProbeCreateJob",
            "createSingleCamJob",
            "mutation ProbeCreateJob($takeId: String!, $outputs: [OutputType]) "
            "{ createSingleCamJob(takeId: $takeId, outputs: $outputs) { id metadata state } }",
            creates="job",
        ),
        _op(
            "ProbeJob",
            "getJob",
            "query ProbeJob($jobId: ID!) { getJob(jobId: $jobId) "
            f"{{ state metadata progress {{ state percentageComplete }} {OUTPUTS} }} }}",
        ),
    )
}
"""Every document the probe can send (tests validate each against the shipped schema)."""


# ------------------------------------------------------------------ the report
@dataclass
class Finding:
    """What the probe saw of one assumption, and which emulator behaviour plays it."""

    name: str
    """The assumption's key (`readiness`, `page_size_max`, ...)."""
    title: str
    confidence: Confidence
    observed: str
    """What was seen, in words (no ids, no URLs)."""
    match: str | None
    """The emulator's variant (or setting) that plays what was seen; None when none does or
    nothing was seen (then `candidates` says which are still possible)."""
    candidates: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    """`EmulatorConfig` settings that play it (`variants.readiness`, `url_ttl`, ...)."""
    details: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def verdict(self) -> str:
        """The match in words: the variant, none, or what is still possible."""
        if self.match is not None:
            return self.match
        if self.confidence != "not_observed" and not self.candidates:
            return "none of the emulator's variants"
        if self.candidates:
            return "one of " + ", ".join(self.candidates)
        return "unknown"


@dataclass
class ProbeReport:
    """The probe's findings, for people (`to_markdown`) and machines (`to_json`)."""

    endpoint: str
    budget: int
    requests: int
    with_job: bool
    read_only: bool
    findings: list[Finding]
    stopped: str | None = None
    """Why the probe stopped early (budget spent, throttled for too long), or None."""
    version: str = ""

    @property
    def created(self) -> str:
        """What the probe created in the account, in words."""
        if self.with_job:
            return "one file (the video), one take and one job (credits spent)"
        return "nothing" if self.read_only else "one file record, never uploaded to (no credits)"

    def finding(self, name: str) -> Finding:
        for finding in self.findings:
            if finding.name == name:
                return finding
        raise KeyError(name)

    @property
    def variants(self) -> Variants:
        """The emulator's variants that play what was seen (unsettled axes at their default)."""
        chosen: dict[str, Any] = {}
        for finding in self.findings:
            for key, value in finding.settings.items():
                if key.startswith("variants."):
                    chosen[key.removeprefix("variants.")] = value
        return Variants(**chosen)

    @property
    def settled_axes(self) -> list[str]:
        """The variant axes the probe settled (observed or inferred to one value)."""
        axes = ("output_labels", "readiness", "throttling", "missing_metadata")
        return [a for a in axes if a in {f.name for f in self.findings if f.match is not None}]

    @property
    def named_variant(self) -> str | None:
        """The name in `VARIANTS` of `variants`, when every axis was settled and one is."""
        if len(self.settled_axes) < 4:
            return None
        played = self.variants
        return next((name for name, v in VARIANTS.items() if v == played), None)

    def emulator_config(self, base: EmulatorConfig | None = None) -> EmulatorConfig:
        """`base` (default `EmulatorConfig()`) changed to play what was seen."""
        config = base or EmulatorConfig()
        top = {
            key: value
            for finding in self.findings
            for key, value in finding.settings.items()
            if not key.startswith("variants.")
        }
        return replace(config, variants=self.variants, **top)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "version": REPORT_VERSION,
            "aio_move_ugc": self.version,
            "endpoint": self.endpoint,
            "budget": self.budget,
            "requests": self.requests,
            "with_job": self.with_job,
            "read_only": self.read_only,
            "created": self.created,
            "stopped": self.stopped,
            "variants": asdict(self.variants),
            "settled_axes": self.settled_axes,
            "named_variant": self.named_variant,
            "findings": [asdict(f) for f in self.findings],
            "emulator_config": self.emulator_config().to_dict(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    def to_markdown(self) -> str:
        lines = [
            "# Move UGC API probe report",
            "",
            f"- aio-move-ugc {self.version}, endpoint `{self.endpoint}`",
            f"- requests: {self.requests} of a budget of {self.budget}"
            + (f" (stopped early: {self.stopped})" if self.stopped else ""),
            f"- created: {self.created}",
            f"- emulator variant that plays it: `{self.variants.describe()}`"
            + (f" (named `{self.named_variant}`)" if self.named_variant else "")
            + f"; axes settled: {', '.join(self.settled_axes) or 'none'}",
            "",
            "| Assumption | Observed | Emulator plays it as | Confidence |",
            "|---|---|---|---|",
        ]
        for f in self.findings:
            cells = [f.title, f.observed, f.verdict(), CONFIDENCE_WORDS[f.confidence]]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        notes = [f"- **{f.title}**: {f.note}" for f in self.findings if f.note]
        if notes:
            lines += ["", "## Notes", "", *notes]
        lines += [
            "",
            "This report holds no API key, token, signed URL or record id. Attach it (or its",
            "JSON form) to an issue in the aio-move-ugc tracker after reading it.",
        ]
        return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# ------------------------------------------------------------------ errors
class ProbeError(MoveUgcError):
    """The probe cannot run as asked (a budget too small for the job, a bad video)."""


class _Stop(Exception):
    """Ends the probe early: the budget is spent or the service throttles for too long."""


# ------------------------------------------------------------------ shapes of answers
def _metadata_shape(value: object) -> str:
    """`null`, `"{}"` or `given` (any other value, which someone set)."""
    if value is None:
        return "null"
    if value == "{}" or value == {}:
        return '"{}"'
    return "given"


def _timestamp(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def url_lifetime(url: str, signed_at: float | None) -> float | None:
    """Seconds a presigned URL lives: its `X-Amz-Expires`, or its `Expires` (an epoch time)
    less `signed_at`. The URL itself is read here and kept nowhere."""
    try:
        query = parse_qs(urlsplit(url).query)
    except ValueError:
        return None
    lowered = {k.lower(): v for k, v in query.items()}
    try:
        if "x-amz-expires" in lowered:
            return float(lowered["x-amz-expires"][0])
        if "expires" in lowered and signed_at is not None:
            # SigV2's Expires is a whole second, and the record's time and the signature's
            # may fall in different seconds of a busy server: within 2 s of a whole minute,
            # the lifetime is that minute (lifetimes are set in round figures).
            seconds = float(lowered["expires"][0]) - signed_at
            minute = round(seconds / 60) * 60
            if minute > 0 and abs(seconds - minute) <= 2:
                return float(minute)
            return float(math.ceil(seconds - 0.05))
    except ValueError:
        return None
    return None


def _extension(output_type: OutputType) -> str:
    return OUTPUT_SUFFIXES[output_type].rsplit(".", 1)[-1]


def emulator_label(labels: str, output_type: OutputType) -> str:
    """The label the emulator gives `output_type` under the `output_labels` variant `labels`."""
    if labels == "lower":
        return output_type.value.lower()
    if labels == "extension":
        return _extension(output_type)
    return output_type.value


LABEL_VARIANTS = ("type", "lower", "extension")
READINESS_VARIANTS = ("null_urls", "one_by_one", "all_at_once")
METADATA_VARIANTS = ("mixed", "null", "empty_json")
METADATA_EXPECTED = {
    "mixed": {"account": '"{}"', "record": "null"},
    "null": {"account": "null", "record": "null"},
    "empty_json": {"account": '"{}"', "record": '"{}"'},
}
"""What a record without metadata reads as, per variant: `account` stands for the account,
jobs and generated output files; `record` for uploaded files, takes, volumes and webhook
endpoints."""
METADATA_CLASS = {
    "account": "account",
    "job": "account",
    "output file": "account",
    "uploaded file": "record",
    "take": "record",
    "volume": "record",
}
DEFAULT_THROTTLE_TYPE = {
    "http429": "TooManyRequestsException",
    "appsync200": "ThrottlingException",
    "http400": "ThrottlingException",
}


@dataclass
class Throttled:
    """One throttled answer, as a shape."""

    status: int
    error_types: list[str]
    retry_after: bool
    operation: str

    def variant(self) -> tuple[str, str | None] | None:
        """(`throttling`, `throttle_error_type`) of the emulator that answers so, or None."""
        if not self.error_types:
            return ("gateway503", None) if self.status == 503 else None
        shape = {429: "http429", 200: "appsync200", 400: "http400"}.get(self.status)
        error_type = self.error_types[0]
        if shape is None or error_type not in THROTTLE_ERROR_TYPES:
            return None
        return shape, None if error_type == DEFAULT_THROTTLE_TYPE[shape] else error_type


@dataclass
class Snapshot:
    """One poll of the probe's job: its state and how many outputs were listed and ready."""

    at: float
    state: str
    percentage: float | None
    listed: int
    ready: int


# ------------------------------------------------------------------ the probe
@dataclass
class Outputs:
    """Outputs seen: (key, format, requested type or None)."""

    labels: list[tuple[str, str, OutputType | None]] = field(default_factory=list)
    source: str = ""


class Probe:
    """One run of the probe (see `probe()`)."""

    def __init__(
        self,
        *,
        api_key: str | None,
        endpoint_url: str | None,
        budget: int,
        read_only: bool,
        video: Path | None,
        clock: Clock,
        max_wait: float,
        job_timeout: float,
        timeout: Timeout,
    ) -> None:
        from ._client import API_KEY_ENV, DEFAULT_ENDPOINT_URL, ENDPOINT_ENV

        key = check.api_key(api_key if api_key is not None else os.environ.get(API_KEY_ENV))
        url = check.endpoint_url(
            endpoint_url
            if endpoint_url is not None
            else os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT_URL
        )
        self._key = Secret(key)
        self.endpoint_url = url
        self.budget = budget
        self.read_only = read_only
        self.video = video
        self.clock = clock
        self.max_wait = max_wait
        self.job_timeout = job_timeout
        self.used = 0
        self.request_ids = 0
        self.retrier = Retrier(
            RetryPolicy(max_retries=budget, base_delay=1.0, max_retry_after=max_wait),
            sleep=clock.sleep,
        )
        self.transport = GraphQLTransport(
            endpoint_url=url,
            api_key=self._key,
            timeout=timeout,
            retrier=Retrier(RetryPolicy(max_retries=0), sleep=clock.sleep),
            budget=None,
            on_request=self._count,
        )
        self.throttled: list[Throttled] = []
        self.failures: dict[str, str] = {}
        self.stopped: str | None = None
        self.metadata: list[tuple[str, str, bool]] = []
        """(kind of record, shape, whether the probe made the record without metadata)."""
        self.outputs = Outputs()
        self.lifetimes: list[tuple[float, str]] = []
        self.facts: dict[str, Any] = {}
        self.snapshots: list[Snapshot] = []
        self.requested: tuple[OutputType, ...] = ()
        self.job_created_at: float | None = None

    def scrub(self, value: Any) -> Any:
        """`value` (text, or lists and dicts of it) without the key, any URL's query (a
        signature, a token) or a record id: what the service answered may hold any of them."""
        if isinstance(value, str):
            text = value.replace(self._key.get_secret_value(), "<key>")
            text = RECORD_ID.sub(r"\1-<id>", text)
            return " ".join(redact_url(w) if "://" in w else w for w in text.split(" "))
        if isinstance(value, list):
            return [self.scrub(v) for v in value]
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub(v) for k, v in value.items()}
        return value

    def _count(self, event: RequestEvent) -> None:
        self.used += 1
        if event.request_id:
            self.request_ids += 1

    # -------------------------------------------------------------- sending
    async def ask(self, name: str, variables: dict[str, Any] | None = None) -> Any:
        """Send one of `DOCUMENTS`: one request, or after a throttled answer (recorded) a wait
        of its Retry-After and one more, never past the budget."""
        operation = DOCUMENTS[name]

        async def attempt() -> Any:
            if self.used >= self.budget:
                raise _Stop(f"the budget of {self.budget} requests is spent")
            try:
                return await self.transport.execute(operation, variables)
            except RateLimitError as exc:
                self.throttled.append(
                    Throttled(
                        status=exc.status,
                        error_types=[str(e.get("errorType")) for e in exc.errors or []],
                        retry_after=exc.retry_after is not None,
                        operation=name,
                    )
                )
                if exc.retry_after is not None and exc.retry_after > self.max_wait:
                    raise _Stop(
                        f"throttled, and asked to wait {exc.retry_after:.0f} s "
                        f"(more than {self.max_wait:.0f})"
                    ) from None
                raise

        # Only throttled answers are tried again; the budget ends the tries.
        return await self.retrier.call(
            attempt, retryable=lambda exc: isinstance(exc, RateLimitError), what=name
        )

    async def step(self, name: str, run: Callable[[], Any]) -> None:
        """Run one observation; a failure is recorded against it and the probe goes on."""
        if self.stopped is not None:
            return
        try:
            await run()
        except _Stop as exc:
            self.stopped = str(exc)
        except APIError as exc:
            self.failures[name] = _error_shape(exc)
        except MoveUgcError as exc:  # no answer, a failed upload: the step is not observed
            self.failures[name] = type(exc).__name__

    # -------------------------------------------------------------- observations
    async def observe_account(self) -> None:
        data = await self.ask("ProbeClient")
        self.metadata.append(("account", _metadata_shape(_get(data, "metadata")), True))

    async def observe_jobs(self) -> None:
        page = await self.ask("ProbeJobs", {"first": 5})
        jobs = _items(page)
        self.facts["jobs_seen"] = len(jobs)
        for job in jobs:
            shape = _metadata_shape(_get(job, "metadata"))
            if shape == "null":
                self.metadata.append(("job", shape, False))
            outputs = _get(job, "outputs") or []
            if _get(job, "state") != "FINISHED" or not isinstance(outputs, list):
                continue
            if outputs and not self.outputs.labels:
                self.outputs.source = "an existing finished job"
                for out in outputs:
                    self.outputs.labels.append(
                        (str(_get(out, "key")), str(_get(out, "format")), None)
                    )
            for out in outputs:
                url = _get(_get(out, "file"), "presignedUrl")
                if url is None:
                    self.facts["existing_null_urls"] = True
                elif isinstance(url, str):
                    lifetime = url_lifetime(url, None)
                    if lifetime is not None:
                        self.lifetimes.append((lifetime, "a job output's download URL"))
                meta = _metadata_shape(_get(_get(out, "file"), "metadata"))
                if meta == "null":
                    self.metadata.append(("output file", meta, False))
        cursor = _get(page, "after")
        self.facts["cursor"] = _cursor_shape(cursor)
        if isinstance(cursor, str):
            await self.ask("ProbeJobsAfter", {"after": cursor})
            self.facts["cursor_accepted"] = True

    async def observe_page_default(self) -> None:
        page = await self.ask("ProbeJobsDefaultPage")
        self.facts["page_default"] = {
            "first": _get(page, "first"),
            "items": len(_items(page)),
            "more": _get(page, "after") is not None,
        }

    async def observe_page_max(self) -> None:
        asked = LIMITS["PAGE_SIZE_MAX"] + 1
        try:
            page = await self.ask("ProbeJobsLargePage", {"first": asked})
        except APIError as exc:
            self.facts["page_max"] = {"asked": asked, "refused": _error_shape(exc)}
            return
        self.facts["page_max"] = {
            "asked": asked,
            "first": _get(page, "first"),
            "items": len(_items(page)),
        }

    async def observe_takes(self) -> None:
        for take in _items(await self.ask("ProbeTakes")):
            shape = _metadata_shape(_get(take, "metadata"))
            if shape == "null":
                self.metadata.append(("take", shape, False))

    async def observe_volumes(self) -> None:
        prefixes = set()
        for volume in _items(await self.ask("ProbeVolumes")):
            ident = _get(volume, "id")
            if isinstance(ident, str):
                prefixes.add(ident.split("-", 1)[0] if "-" in ident else "(none)")
            shape = _metadata_shape(_get(volume, "metadata"))
            if shape == "null":
                self.metadata.append(("volume", shape, False))
        self.facts["volume_prefixes"] = sorted(prefixes)

    async def observe_rigs(self) -> None:
        items = _items(await self.ask("ProbeRigs"))
        self.facts["rigs"] = [str(_get(i, "name")) for i in items]

    async def observe_lenses(self) -> None:
        items = _items(await self.ask("ProbeLenses"))
        self.facts["lenses"] = [str(_get(i, "lens")) for i in items]

    async def observe_missing(self) -> None:
        try:
            await self.ask("ProbeMissingJob", {"jobId": MISSING_JOB_ID})
        except APIError as exc:
            self.facts["not_found"] = _error_shape(exc)
            return
        self.facts["not_found"] = "answered without an error"

    async def create_file(self, file_type: str) -> dict[str, Any]:
        record = await self.ask("ProbeCreateFile", {"type": file_type})
        self.metadata.append(("uploaded file", _metadata_shape(_get(record, "metadata")), True))
        url = _get(record, "presignedUrl")
        if isinstance(url, str):
            lifetime = url_lifetime(url, _timestamp(_get(record, "created")))
            if lifetime is not None:
                self.lifetimes.append((lifetime, "a new file's upload URL"))
        return record if isinstance(record, dict) else {}

    # -------------------------------------------------------------- the job
    async def run_job(self, video: Path) -> str | None:
        """Upload `video`, create one take and one job on it; returns the job's id."""
        from ._client import AsyncMoveUgc

        source, _, file_type = check_upload_source(video, None)
        record = await self.create_file(file_type)
        url, file_id = _get(record, "presignedUrl"), _get(record, "id")
        if not isinstance(url, str) or not isinstance(file_id, str):
            self.failures["job"] = "createFile answered no upload URL"
            return None
        # The storage wire only: the upload sends no GraphQL request.
        async with AsyncMoveUgc(
            self._key.get_secret_value(), endpoint_url=self.endpoint_url, clock=self.clock
        ) as ugc:
            await ugc.files.upload_to_url(url, source)
        sources = [{"deviceLabel": "probe", "fileId": file_id, "format": file_type.upper()}]
        take = await self.ask("ProbeCreateTake", {"sources": sources})
        self.metadata.append(("take", _metadata_shape(_get(take, "metadata")), True))
        self.requested = SINGLECAM_DEFAULT_OUTPUTS
        job = await self.ask(
            "ProbeCreateJob",
            {"takeId": _get(take, "id"), "outputs": [t.value for t in self.requested]},
        )
        self.job_created_at = self.clock.now()
        self.metadata.append(("job", _metadata_shape(_get(job, "metadata")), True))
        job_id = _get(job, "id")
        return job_id if isinstance(job_id, str) else None

    async def follow_job(self, job_id: str) -> None:
        """Poll the job until every output it was asked for has a URL: sparsely while it runs
        (aiming just past its end, from the rate its percentage rises), densely after."""
        started = self.clock.now()
        interval = 2.0
        after_end = 1.0
        seen: list[tuple[float, float]] = []
        while True:
            job = await self.ask("ProbeJob", {"jobId": job_id})
            now = self.clock.now()
            state = str(_get(job, "state"))
            outputs = _get(job, "outputs") or []
            percentage = _get(_get(job, "progress"), "percentageComplete")
            ready = [o for o in outputs if isinstance(_get(_get(o, "file"), "presignedUrl"), str)]
            self.snapshots.append(
                Snapshot(
                    at=now,
                    state=state,
                    percentage=float(percentage) if isinstance(percentage, int | float) else None,
                    listed=len(outputs),
                    ready=len(ready),
                )
            )
            for out in outputs:
                meta = _metadata_shape(_get(_get(out, "file"), "metadata"))
                self.metadata.append(("output file", meta, True))
            if state == "FAILED":
                self.facts["job_failed"] = True
                return
            if state == "FINISHED" and len(ready) >= len(self.requested):
                self.outputs = Outputs(source="the probe's job")
                for out in outputs:
                    key, fmt = str(_get(out, "key")), str(_get(out, "format"))
                    self.outputs.labels.append((key, fmt, _told(key, self.requested)))
                return
            if now - started > self.job_timeout:
                raise _Stop(f"the job was not ready within {self.job_timeout:.0f} s")
            if state == "FINISHED":
                wait = after_end
                after_end = min(after_end * 1.3, 15.0)
            else:
                wait = interval
                interval = min(interval * 1.5, 30.0)
                if state == "RUNNING" and isinstance(percentage, int | float):
                    seen.append((now, float(percentage)))
                    eta = _eta(seen)
                    if eta is not None:
                        wait = max(0.5, min(wait, eta - now + 0.5))
            await self.clock.sleep(wait)


def _told(label: str, requested: Iterable[OutputType]) -> OutputType | None:
    """The requested type a label names under any of the emulator's label variants, when only
    one does."""
    found = {t for t in requested for v in LABEL_VARIANTS if emulator_label(v, t) == label}
    return found.pop() if len(found) == 1 else None


def _eta(seen: list[tuple[float, float]]) -> float | None:
    """When the percentage reaches 100, going at the rate of the last two polls."""
    if len(seen) < 2:
        return None
    (t0, p0), (t1, p1) = seen[-2], seen[-1]
    if p1 <= p0 or t1 <= t0:
        return None
    return t1 + (100.0 - p1) * (t1 - t0) / (p1 - p0)


def _get(value: object, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _items(page: object) -> list[Any]:
    items = _get(page, "items")
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _error_shape(exc: APIError) -> str:
    types = sorted({str(e.get("errorType")) for e in exc.errors or [] if e.get("errorType")})
    return f"HTTP {exc.status}" + (f" {', '.join(types)}" if types else ", no errorType")


def _cursor_shape(cursor: object) -> dict[str, Any] | None:
    """The form of a page cursor without its content: JSON or not, and its keys' types."""
    if cursor is None:
        return None
    if not isinstance(cursor, str):
        return {"json_string": False, "type": type(cursor).__name__}
    try:
        decoded = json.loads(cursor)
    except ValueError:
        return {"json_string": False, "type": "opaque string", "length": len(cursor)}
    if isinstance(decoded, dict):
        return {
            "json_string": True,
            "keys": {str(k): type(v).__name__ for k, v in sorted(decoded.items())},
        }
    return {"json_string": True, "type": type(decoded).__name__}


# ------------------------------------------------------------------ judging
def judge_labels(outputs: Outputs) -> Finding:
    title = "Output labels (`output_labels`)"
    if not outputs.labels:
        return Finding(
            "output_labels",
            title,
            "not_observed",
            "no finished job with outputs was seen",
            None,
            list(LABEL_VARIANTS),
            note=NEEDS_JOB + " (or probe an account with a finished job)",
        )
    candidates = set(LABEL_VARIANTS)
    for key, fmt, told in outputs.labels:
        if key != fmt:
            candidates = set()
            break
        if told is not None:
            candidates &= {v for v in LABEL_VARIANTS if emulator_label(v, told) == key}
        else:
            candidates &= {
                v for v in LABEL_VARIANTS for t in OutputType if emulator_label(v, t) == key
            }
    pairs = sorted({f"{k}" if k == f else f"key {k}, format {f}" for k, f, _ in outputs.labels})
    observed = f"from {outputs.source}: " + ", ".join(f"`{p}`" for p in pairs[:8])
    ordered = [v for v in LABEL_VARIANTS if v in candidates]
    match = ordered[0] if len(ordered) == 1 else None
    return Finding(
        "output_labels",
        title,
        "observed",
        observed,
        match,
        ordered,
        settings={"variants.output_labels": match} if match else {},
        details={"labels": [[k, f] for k, f, _ in outputs.labels]},
    )


def judge_readiness(probe: Probe) -> Finding:
    title = "Readiness after FINISHED (`readiness`)"
    wanted = len(probe.requested)
    after = [s for s in probe.snapshots if s.state == "FINISHED"]
    details = {
        "polls_after_finished": [
            {"listed": s.listed, "with_url": s.ready, "of": wanted} for s in after
        ]
    }
    if not probe.snapshots:
        if "job" in probe.failures:
            return Finding(
                "readiness",
                title,
                "not_observed",
                f"the probe's job could not be made or followed ({probe.failures['job']})",
                None,
                list(READINESS_VARIANTS),
            )
        if probe.facts.get("existing_null_urls"):
            return Finding(
                "readiness",
                title,
                "inferred",
                "an existing finished job lists outputs with `presignedUrl: null`",
                "null_urls",
                ["null_urls"],
                settings={"variants.readiness": "null_urls"},
                note="seen on a job of the account, not watched from its end",
            )
        return Finding(
            "readiness",
            title,
            "not_observed",
            "no job was watched",
            None,
            list(READINESS_VARIANTS),
            note=NEEDS_JOB,
        )
    if probe.facts.get("job_failed"):
        return Finding(
            "readiness",
            title,
            "not_observed",
            "the probe's job FAILED (the service gave no reason)",
            None,
            list(READINESS_VARIANTS),
            details=details,
        )
    waiting = [s for s in after if s.ready < wanted]
    if not waiting:
        return Finding(
            "readiness",
            title,
            "not_observed",
            "every output was ready at the first poll after FINISHED",
            None,
            list(READINESS_VARIANTS),
            details=details,
            note="the outputs were ready before a poll saw the job without them",
        )
    candidates = set(READINESS_VARIANTS)
    for s in waiting:
        if s.listed > s.ready:
            candidates &= {"null_urls"} if s.listed == wanted else set()
        elif s.listed == 0:
            candidates &= {"one_by_one", "all_at_once"}
        else:
            candidates &= {"one_by_one"}
    ordered = [v for v in READINESS_VARIANTS if v in candidates]
    confidence: Confidence = "observed"
    note = ""
    if ordered == ["one_by_one", "all_at_once"]:
        # Only empty lists, then the whole one: all at once, unless they came one by one
        # faster than the polls.
        ordered, confidence = ["all_at_once"], "inferred"
        note = "no poll saw part of the outputs listed; outputs listed one by one faster than "
        note += "the polls would look the same"
    match = ordered[0] if len(ordered) == 1 else None
    shapes = sorted({f"{s.listed} listed, {s.ready} with a URL" for s in waiting})
    return Finding(
        "readiness",
        title,
        confidence,
        f"before all {wanted} outputs were ready, polls saw: " + "; ".join(shapes),
        match,
        ordered,
        settings={"variants.readiness": match} if match else {},
        details=details,
        note=note,
    )


def judge_throttling(probe: Probe) -> Finding:
    title = "Throttled answers (`throttling`, `throttle_error_type`)"
    if not probe.throttled:
        return Finding(
            "throttling",
            title,
            "not_observed",
            "no request was throttled",
            None,
            ["http429", "appsync200", "http400", "gateway503"],
            note="seen only when the service throttles a request of the probe; the probe "
            "never exhausts a plan's hourly requests on purpose",
        )
    shapes = {t.variant() for t in probe.throttled}
    details = {"answers": [asdict(t) for t in probe.throttled]}
    first = probe.throttled[0]
    seen = (
        f"HTTP {first.status}, "
        + (f"errorType {', '.join(first.error_types)}" if first.error_types else "no errorType")
        + (", Retry-After" if first.retry_after else ", no Retry-After")
    )
    if len(shapes) != 1 or None in shapes:
        return Finding("throttling", title, "observed", seen, None, [], details=details)
    shape = shapes.pop()
    assert shape is not None
    throttling, error_type = shape
    match = throttling + (f", {error_type}" if error_type else "")
    return Finding(
        "throttling",
        title,
        "observed",
        seen,
        match,
        [match],
        settings={
            "variants.throttling": throttling,
            "variants.throttle_error_type": error_type,
        },
        details=details,
    )


def judge_metadata(probe: Probe) -> Finding:
    title = "Metadata never given (`missing_metadata`)"
    candidates = set(METADATA_VARIANTS)
    direct = False
    seen: dict[str, set[str]] = {}
    for kind, shape, made in probe.metadata:
        if shape == "given":
            continue
        seen.setdefault(kind, set()).add(shape)
        cls = METADATA_CLASS[kind]
        # A record someone else made may hold a "{}" they gave; only null tells then.
        if made or shape == "null":
            candidates &= {v for v in METADATA_VARIANTS if METADATA_EXPECTED[v][cls] == shape}
            direct = direct or made
    observed = "; ".join(f"{kind}: {' or '.join(sorted(s))}" for kind, s in sorted(seen.items()))
    ordered = [v for v in METADATA_VARIANTS if v in candidates]
    match = ordered[0] if len(ordered) == 1 else None
    if not seen:
        return Finding(
            "missing_metadata", title, "not_observed", "no record was read", None, ordered
        )
    confidence: Confidence = "observed" if direct and match else "inferred"
    note = ""
    if match is None and ordered:
        note = "an uploaded file or take made without metadata tells them apart (not --read-only)"
    return Finding(
        "missing_metadata",
        title,
        confidence,
        observed,
        match,
        ordered,
        settings={"variants.missing_metadata": match} if match else {},
        details={"records": {k: sorted(s) for k, s in seen.items()}},
        note=note,
    )


def _fixed(
    name: str, title: str, observed: str, same: bool | None, *, note: str = "", **details: Any
) -> Finding:
    """A behaviour the emulator plays one way only: it matches (`same`), or none does."""
    if same is None:
        return Finding(name, title, "not_observed", observed, None, [], note=note)
    return Finding(
        name,
        title,
        "observed",
        observed,
        "the emulator's" if same else None,
        ["the emulator's"] if same else [],
        details=details,
        note=note,
    )


def judge_fixed(probe: Probe) -> list[Finding]:
    facts, failures = probe.facts, probe.failures
    found: list[Finding] = []

    page = facts.get("page_default")
    if isinstance(page, dict):
        size, items, more = page["first"], page["items"], page["more"]
        text = f"`first` answered {size}; {items} items" + (", more pages" if more else "")
        if isinstance(size, int):
            same: bool | None = size == LIMITS["PAGE_SIZE_DEFAULT"]
        elif more:
            same = items == LIMITS["PAGE_SIZE_DEFAULT"]
        else:
            same, text = None, text + " (too few jobs to tell)"
        found.append(_fixed("page_size_default", "Default page size", text, same, **page))
    else:
        found.append(_failed("page_size_default", "Default page size", failures))

    page_max = facts.get("page_max")
    if isinstance(page_max, dict):
        asked = page_max["asked"]
        if "refused" in page_max:
            text = f"`first: {asked}` refused ({page_max['refused']})"
            same = "BadRequestException" in str(page_max["refused"])
        else:
            text = f"`first: {asked}` accepted (`first` answered {page_max.get('first')})"
            same = False
        found.append(_fixed("page_size_max", "Largest page size", text, same, **page_max))
    else:
        found.append(_failed("page_size_max", "Largest page size", failures))

    cursor = facts.get("cursor")
    if cursor is not None:
        keys = cursor.get("keys", {}) if isinstance(cursor, dict) else {}
        accepted = facts.get("cursor_accepted")
        text = (
            ("a JSON string of " + ", ".join(f"{k} ({v})" for k, v in keys.items()))
            if keys
            else f"{cursor}"
        ) + ("; sent back, it gave the next page" if accepted else "")
        found.append(
            _fixed(
                "pagination_cursor",
                "Page cursor (`after`)",
                text,
                set(keys) == {"created", "id"} and bool(accepted),
                note="clients must send a cursor back unchanged whatever its form",
                cursor=cursor,
            )
        )
    else:
        found.append(
            _fixed(
                "pagination_cursor",
                "Page cursor (`after`)",
                "no second page of jobs (fewer than 6 jobs)"
                if "ProbeJobs" not in failures
                else f"the request failed ({failures.get('jobs')})",
                None,
            )
        )

    for key, name, title in (
        ("rigs", "RIGS", "Rigs (`listRigs`)"),
        ("lenses", "LENSES", "Lenses (`listCameraSettings`)"),
    ):
        values = facts.get(key)
        if isinstance(values, list):
            expected = set(LIMITS[name])
            text = ", ".join(f"`{v}`" for v in values) or "none"
            found.append(_fixed(key, title, text, set(values) == expected, values=values))
        else:
            found.append(_failed(key, title, failures))

    prefixes = facts.get("volume_prefixes")
    if isinstance(prefixes, list) and prefixes:
        found.append(
            _fixed(
                "volume_ids",
                "Volume ids",
                "ids begin " + ", ".join(f"`{p}-`" for p in prefixes),
                prefixes == [LIMITS["VOLUME_ID_PREFIX"]],
                prefixes=prefixes,
            )
        )
    else:
        found.append(_fixed("volume_ids", "Volume ids", "no volume in the account", None))

    missing = facts.get("not_found")
    if missing is not None:
        found.append(
            _fixed(
                "not_found",
                "A missing record",
                str(missing),
                missing == "HTTP 200 MoveNotFoundError",
                answer=missing,
            )
        )
    else:
        found.append(_failed("not_found", "A missing record", failures))

    lifetimes = sorted({life for life, _ in probe.lifetimes})
    if lifetimes:
        life, where = next((lf, w) for lf, w in probe.lifetimes if lf == lifetimes[-1])
        ttl = float(life)
        found.append(
            Finding(
                "url_lifetime",
                "Presigned URL lifetime (`url_ttl`)",
                "observed",
                f"{life:.0f} s ({where})",
                f"url_ttl={ttl:.0f}",
                [f"url_ttl={ttl:.0f}"],
                settings={"url_ttl": ttl},
                details={"seconds": lifetimes},
            )
        )
    else:
        found.append(
            _fixed(
                "url_lifetime",
                "Presigned URL lifetime (`url_ttl`)",
                "no URL with a readable lifetime was seen",
                None,
            )
        )

    found.append(
        _fixed(
            "request_ids",
            "Request ids (`x-amzn-RequestId`)",
            f"{probe.request_ids} of {probe.used} answers carried one",
            probe.request_ids == probe.used if probe.used else None,
        )
    )
    found.append(
        _fixed(
            "webhook_event_names",
            "Webhook event names",
            "not observable by the probe",
            None,
            note="deliveries need a receiver the service can reach; subscribe one to both "
            "spellings and look at what arrives (see docs/emulator-assumptions.md)",
        )
    )
    found.append(judge_timing(probe))
    return found


def _failed(name: str, title: str, failures: dict[str, str]) -> Finding:
    reason = failures.get(name)
    text = f"the request failed ({reason})" if reason else "not asked (the probe stopped)"
    return Finding(name, title, "not_observed", text, None, [])


def judge_timing(probe: Probe) -> Finding:
    title = "Job timing (`job_queue_delay`, `job_duration`, `output_lag`)"
    snaps, created = probe.snapshots, probe.job_created_at
    if not snaps or created is None or probe.facts.get("job_failed"):
        return Finding(
            "job_timing", title, "not_observed", "no job was watched", None, [], note=NEEDS_JOB
        )

    def between(before: Callable[[Snapshot], bool]) -> float | None:
        """The midpoint between the last poll where `before` held and the next one."""
        last = created
        for s in snaps:
            if not before(s):
                return (last + s.at) / 2
            last = s.at
        return None

    started = between(lambda s: s.state == "NOT_STARTED")
    finished = between(lambda s: s.state in ("NOT_STARTED", "RUNNING"))
    wanted = len(probe.requested)
    ready = between(lambda s: s.state != "FINISHED" or s.ready < wanted)
    if started is None or finished is None or ready is None:
        return Finding("job_timing", title, "not_observed", "the job did not finish", None, [])
    queue = max(0.0, started - created)
    duration = max(0.0, finished - started)
    lag = max(0.0, ready - finished)
    settings = {
        "job_queue_delay": round(queue, 1),
        "job_duration": round(duration, 1),
        "output_lag": round(lag, 1),
    }
    text = f"queued about {queue:.0f} s, ran about {duration:.0f} s, outputs ready about " + (
        f"{lag:.0f} s after FINISHED ({len(snaps)} polls)"
    )
    return Finding(
        "job_timing",
        title,
        "inferred",
        text,
        ", ".join(f"{k}={v}" for k, v in settings.items()),
        [],
        settings=settings,
        note="times are midpoints between polls, as precise as the polls were dense",
    )


# ------------------------------------------------------------------ entry point
def plan(*, budget: int, read_only: bool, video: Path | None) -> list[str]:
    """What the probe will send, in words, to say before it starts."""
    lines = [
        f"at most {budget} GraphQL requests, counted as they are sent",
        f"up to {READ_ONLY_REQUESTS} read-only queries (account, jobs, takes, volumes, "
        "rigs, lenses, a job id that does not exist)",
    ]
    if video is not None:
        lines.append(
            f"one file record, an upload of {video.name}, one take and ONE JOB (spends "
            "credits); then polls of that job until its outputs are ready"
        )
    elif not read_only:
        lines.append("one file record without metadata, never uploaded to (spends no credits)")
    else:
        lines.append("nothing created")
    return lines


def check_arguments(
    *, budget: int, read_only: bool, with_job: str | os.PathLike[str] | None
) -> Path | None:
    """The video of `with_job` (None without), once the arguments make sense together: a
    clear error otherwise, before anything is sent."""
    budget = check.count(budget, "budget", minimum=1)
    if budget > MAX_BUDGET:
        raise InvalidInputError(f"budget must be at most {MAX_BUDGET}, got {budget}")
    if with_job is None:
        return None
    if read_only:
        raise InvalidInputError("with_job creates a file, a take and a job: not read_only")
    video, _, _ = check_upload_source(with_job, None)
    needed = READ_ONLY_REQUESTS + JOB_REQUESTS + MIN_POLLS
    if budget < needed:
        raise ProbeError(
            f"a budget of {budget} requests is too small for a job: it needs at least "
            f"{needed}, to follow the job with {MIN_POLLS} polls or more"
        )
    return video


async def probe(
    api_key: str | None = None,
    *,
    endpoint_url: str | None = None,
    budget: int = DEFAULT_BUDGET,
    read_only: bool = False,
    with_job: str | os.PathLike[str] | None = None,
    clock: Clock | None = None,
    max_wait: float = 60.0,
    job_timeout: float = 3600.0,
    timeout: Timeout | None = None,
) -> ProbeReport:
    """Observe the hosted service's unobserved behaviours; never more than `budget` requests.

    Args:
        api_key, endpoint_url: as for `AsyncMoveUgc` (defaults from the environment).
        budget: the most GraphQL requests to send (1 to 500; 50 by default).
        read_only: create nothing (no file record); the metadata axis may stay unsettled.
        with_job: a small video to spend exactly one job on, to watch readiness, output
            labels and timings (the caller asks the user first).
        clock: what waits (after a throttled answer, between polls) go through.
        max_wait: the longest Retry-After the probe waits out; a longer one ends it.
        job_timeout: seconds to follow the job before giving up on it.

    Raises `InvalidInputError`/`ConfigurationError` before sending anything for bad
    arguments, and `ProbeError` when the budget cannot cover what was asked.
    """
    video = check_arguments(budget=budget, read_only=read_only, with_job=with_job)
    check.seconds(max_wait, "max_wait", allow_zero=True)
    check.seconds(job_timeout, "job_timeout")
    from . import __version__

    run = Probe(
        api_key=api_key,
        endpoint_url=endpoint_url,
        budget=budget,
        read_only=read_only,
        video=video,
        clock=clock or LoopClock(),
        max_wait=max_wait,
        job_timeout=job_timeout,
        timeout=timeout or Timeout(),
    )
    try:
        job_id: str | None = None
        if video is not None:
            # Made first, so that it runs while the read-only queries are asked.
            async def start_job() -> None:
                nonlocal job_id
                job_id = await run.run_job(video)

            await run.step("job", start_job)
        await run.step("account", run.observe_account)
        await run.step("jobs", run.observe_jobs)
        await run.step("page_size_default", run.observe_page_default)
        await run.step("page_size_max", run.observe_page_max)
        await run.step("takes", run.observe_takes)
        await run.step("volumes", run.observe_volumes)
        await run.step("rigs", run.observe_rigs)
        await run.step("lenses", run.observe_lenses)
        await run.step("not_found", run.observe_missing)
        if video is None and not read_only:
            await run.step("file", lambda: run.create_file("mp4"))
        if job_id is not None:
            await run.step("job", lambda: run.follow_job(job_id))
    finally:
        await run.transport.aclose()
    findings = [
        judge_labels(run.outputs),
        judge_readiness(run),
        judge_throttling(run),
        judge_metadata(run),
        *judge_fixed(run),
    ]
    for finding in findings:
        finding.observed = run.scrub(finding.observed)
        finding.match = run.scrub(finding.match)
        finding.candidates = run.scrub(finding.candidates)
        finding.details = run.scrub(finding.details)
        finding.note = run.scrub(finding.note)
    return ProbeReport(
        endpoint=redact_url(run.endpoint_url),
        budget=budget,
        requests=run.used,
        with_job=video is not None,
        read_only=read_only,
        findings=findings,
        stopped=run.stopped,
        version=__version__,
    )


def load_report(text: str) -> dict[str, Any]:
    """A report's JSON, checked to be one of this version."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"not a probe report: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
        raise ConfigurationError(f"not a probe report (format must be {REPORT_FORMAT!r})")
    if data.get("version") != REPORT_VERSION:
        raise ConfigurationError(f"probe report version {data.get('version')!r:.20} unknown")
    return data


__all__ = [
    "DEFAULT_BUDGET",
    "DOCUMENTS",
    "Finding",
    "ProbeError",
    "ProbeReport",
    "check_arguments",
    "plan",
    "probe",
]
