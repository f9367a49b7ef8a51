"""The probe against the emulator playing every variant: it names each one, within its budget,
and its report and configuration play back into the emulator as the same report."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import anyio
import pytest
from graphql import parse, validate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aio_move_ugc import InvalidInputError, RateLimitError, Timeout
from aio_move_ugc._schema import load_schema
from aio_move_ugc.emulator import (
    THROTTLE_ERROR_TYPES,
    VARIANTS,
    Emulator,
    EmulatorConfig,
    RouteFaults,
    Variants,
)
from aio_move_ugc.probe import (
    DOCUMENTS,
    Outputs,
    Probe,
    ProbeError,
    ProbeReport,
    judge_labels,
    probe,
)

TIMINGS = EmulatorConfig(job_queue_delay=2.0, job_duration=10.0, output_lag=10.0, output_size=256)
"""A job's life in emulator seconds: time moves only when the probe sleeps, so this costs no
wall time and gives the polls room to see the outputs come."""
THROTTLED = {"graphql": RouteFaults(rate_429=1.0)}
"""Every request throttled, until the probe first waits (see `Clock`)."""


@dataclass
class Clock:
    """The probe's clock: a sleep moves the emulator's clock, and the first one lifts the
    throttling of `THROTTLED`, so exactly one answer is throttled."""

    emu: Emulator
    slept: list[float] = field(default_factory=list)

    def now(self) -> float:
        return self.emu.clock.monotonic()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.emu.set_faults("graphql", None)
        self.emu.advance(seconds)
        await anyio.lowlevel.checkpoint()


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\0" * 4096)
    return path


async def run_probe(
    config: EmulatorConfig, *, throttle: bool = True, **options: object
) -> tuple[ProbeReport, Emulator]:
    """The probe against a fresh emulator playing `config`; the report, and the emulator."""
    if throttle:
        config = replace(config, faults=THROTTLED)
    async with Emulator(config) as emu:
        before = emu.stats.graphql_requests
        report = await probe(
            emu.api_key,
            endpoint_url=emu.endpoint_url,
            clock=Clock(emu),
            **options,  # type: ignore[arg-type]
        )
        assert report.requests == emu.stats.graphql_requests - before
        assert report.requests <= report.budget
        return report, emu


def verdicts(report: ProbeReport) -> dict[str, tuple[str | None, str]]:
    """What a report says of each assumption, without the figures that depend on timing."""
    return {
        f.name: (f.match, f.confidence)
        for f in report.findings
        if f.name not in ("job_timing", "request_ids")
    }


# ------------------------------------------------------------------ every variant
@pytest.mark.parametrize("name", list(VARIANTS))
async def test_the_probe_names_every_named_variant(name: str, video: Path) -> None:
    report, _ = await run_probe(replace(TIMINGS, variants=VARIANTS[name]), with_job=video)
    assert report.stopped is None
    assert report.variants == VARIANTS[name]
    assert report.named_variant == name
    assert report.settled_axes == [
        "output_labels",
        "readiness",
        "throttling",
        "missing_metadata",
    ]
    assert report.requests <= 50


def pairwise() -> list[Variants]:
    """Combinations of the axes that hold every pair of values of every two axes."""
    axes = {
        "output_labels": ["type", "lower", "extension"],
        "readiness": ["null_urls", "one_by_one", "all_at_once"],
        "throttling": ["http429", "appsync200", "http400", "gateway503"],
        "missing_metadata": ["mixed", "null", "empty_json"],
    }
    names = list(axes)
    uncovered = {
        (a, va, b, vb)
        for a, b in itertools.combinations(names, 2)
        for va in axes[a]
        for vb in axes[b]
    }
    chosen: list[Variants] = []
    everything = list(itertools.product(*axes.values()))
    while uncovered:

        def gain(values: tuple[str, ...], left: set[tuple[str, str, str, str]]) -> int:
            pick = dict(zip(names, values, strict=True))
            return sum(
                (a, pick[a], b, pick[b]) in left for a, b in itertools.combinations(names, 2)
            )

        best = max(everything, key=lambda values, left=uncovered: gain(values, left))
        pick = dict(zip(names, best, strict=True))
        uncovered -= {(a, pick[a], b, pick[b]) for a, b in itertools.combinations(names, 2)}
        chosen.append(Variants(**pick))  # type: ignore[arg-type]
    return chosen


PAIRS = pairwise()


def test_the_pairwise_set_covers_every_pair() -> None:
    for a, b in itertools.combinations(
        ("output_labels", "readiness", "throttling", "missing_metadata"), 2
    ):
        seen = {(getattr(v, a), getattr(v, b)) for v in PAIRS}
        values_a = {getattr(v, a) for v in PAIRS}
        values_b = {getattr(v, b) for v in PAIRS}
        assert seen == set(itertools.product(values_a, values_b))
    assert len(PAIRS) <= 16


@pytest.mark.parametrize("variants", PAIRS, ids=[v.describe() for v in PAIRS])
async def test_the_probe_names_every_pair_of_axis_values(variants: Variants, video: Path) -> None:
    report, _ = await run_probe(replace(TIMINGS, variants=variants), with_job=video)
    assert report.variants == variants
    assert len(report.settled_axes) == 4


axes = st.builds(
    Variants,
    output_labels=st.sampled_from(["type", "lower", "extension"]),
    readiness=st.sampled_from(["null_urls", "one_by_one", "all_at_once"]),
    throttling=st.sampled_from(["http429", "appsync200", "http400"]),
    throttle_error_type=st.none() | st.sampled_from(THROTTLE_ERROR_TYPES),
    missing_metadata=st.sampled_from(["mixed", "null", "empty_json"]),
) | st.builds(
    Variants,
    output_labels=st.sampled_from(["type", "lower", "extension"]),
    readiness=st.sampled_from(["null_urls", "one_by_one", "all_at_once"]),
    throttling=st.just("gateway503"),
    missing_metadata=st.sampled_from(["mixed", "null", "empty_json"]),
)


@pytest.fixture(scope="module")
def module_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("probe") / "any.mp4"
    path.write_bytes(b"\0" * 512)
    return path


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(variants=axes, seed=st.integers(0, 1000))
def test_the_probe_names_any_combination(variants: Variants, seed: int, module_video: Path) -> None:
    video = module_video
    config = replace(TIMINGS, variants=variants, seed=seed)
    report, _ = asyncio.run(run_probe(config, with_job=video))
    assert len(report.settled_axes) == 4
    assert report.variants.throttle_type == variants.throttle_type
    assert replace(report.variants, throttle_error_type=None) == replace(
        variants, throttle_error_type=None
    )


async def test_a_failed_job_is_said_and_its_readiness_not_guessed(video: Path) -> None:
    report, _ = await run_probe(replace(TIMINGS, failure_rate=1.0), with_job=video)
    found = report.finding("readiness")
    assert found.confidence == "not_observed"
    assert "FAILED" in found.observed
    assert report.finding("job_timing").confidence == "not_observed"


SHAPES = [
    Variants(throttling=shape, throttle_error_type=error_type)
    for shape in ("http429", "appsync200", "http400")
    for error_type in (None, *THROTTLE_ERROR_TYPES)
]


@pytest.mark.parametrize("variants", SHAPES, ids=[v.describe() for v in SHAPES])
async def test_the_probe_names_every_throttling_shape_and_error_type(
    variants: Variants,
) -> None:
    report, _ = await run_probe(replace(TIMINGS, variants=variants))
    found = report.finding("throttling")
    assert found.confidence == "observed"
    # A spelled-out default error type plays the same as none.
    assert (report.variants.throttling, report.variants.throttle_type) == (
        variants.throttling,
        variants.throttle_type,
    )


# ------------------------------------------------------------------ without a job
async def test_without_a_job_labels_come_from_a_finished_job_and_readiness_is_not_seen(
    video: Path,
) -> None:
    config = replace(TIMINGS, variants=VARIANTS["all-unlike-default"])
    async with Emulator(config) as emu:
        async with emu_client(emu) as ugc:
            file = await ugc.files.upload(video)
            take = await ugc.takes.create_singlecam(
                [{"device_label": "cam", "file_id": file.id, "format": "MP4"}]
            )
            for _ in range(7):
                await ugc.jobs.create_singlecam(take.id)
            await ugc.volumes.create_human_volume(
                [
                    {
                        "device_label": label,
                        "file_id": file.id,
                        "format": "MP4",
                        "camera_settings": {"lens": "goprohero10-2-7k"},
                    }
                    for label in ("left", "right")
                ],
                human_height=1.8,
                area_type="NORMAL",
            )
        emu.advance(3600)
        report = await probe(emu.api_key, endpoint_url=emu.endpoint_url, clock=Clock(emu))
    assert report.finding("output_labels").match == "extension"
    assert report.finding("readiness").confidence == "not_observed"
    assert report.finding("missing_metadata").match == "null"
    assert report.finding("volume_ids").match == "the emulator's"
    cursor = report.finding("pagination_cursor")
    assert cursor.match == "the emulator's", cursor
    assert report.named_variant is None
    assert report.requests <= 11


def emu_client(emu: Emulator):  # type: ignore[no-untyped-def]
    from aio_move_ugc import AsyncMoveUgc

    return AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url)


@pytest.mark.parametrize("missing", ["mixed", "null", "empty_json"])
async def test_read_only_creates_nothing(missing: str) -> None:
    variants = Variants(missing_metadata=missing)  # type: ignore[arg-type]
    report, emu = await run_probe(
        replace(TIMINGS, variants=variants), throttle=False, read_only=True
    )
    mutations = {op for op in emu.stats.operations if op.startswith("ProbeCreate")}
    assert mutations == set()
    found = report.finding("missing_metadata")
    # The account alone tells null from the others; the two others need a created record.
    assert found.match == ("null" if missing == "null" else None)
    assert missing in found.candidates


# ------------------------------------------------------------------ the budget
@pytest.mark.parametrize("budget", [1, 2, 5, 9, 10, 11])
async def test_a_budget_is_never_passed(budget: int) -> None:
    report, emu = await run_probe(TIMINGS, budget=budget)
    assert report.requests == emu.stats.graphql_requests <= budget
    assert report.stopped is None or "budget" in report.stopped
    assert report.requests == budget or report.stopped is None


@pytest.mark.parametrize("budget", [17, 20, 24])
async def test_a_budget_with_a_job_is_never_passed(budget: int, video: Path) -> None:
    report, emu = await run_probe(TIMINGS, budget=budget, with_job=video)
    assert report.requests == emu.stats.graphql_requests <= budget
    assert emu.stats.operations["ProbeCreateJob"] == 1


async def test_a_budget_too_small_for_a_job_is_refused_before_sending(video: Path) -> None:
    async with Emulator(TIMINGS) as emu:
        with pytest.raises(ProbeError, match="too small"):
            await probe(emu.api_key, endpoint_url=emu.endpoint_url, budget=16, with_job=video)
        with pytest.raises(InvalidInputError, match="budget"):
            await probe(emu.api_key, endpoint_url=emu.endpoint_url, budget=0)
        with pytest.raises(InvalidInputError, match="read_only"):
            await probe(emu.api_key, endpoint_url=emu.endpoint_url, read_only=True, with_job=video)
        assert emu.stats.graphql_requests == 0


async def test_a_long_retry_after_ends_the_probe_instead_of_waiting() -> None:
    config = replace(TIMINGS, hourly_request_budget=3)
    async with Emulator(config) as emu:
        report = await probe(emu.api_key, endpoint_url=emu.endpoint_url, clock=Clock(emu))
    assert report.stopped is not None
    assert "throttled" in report.stopped
    assert report.requests == 4
    assert report.finding("throttling").match == "http429"


# ------------------------------------------------------------------ secrets
async def test_the_report_holds_no_key_url_token_or_id(video: Path) -> None:
    config = replace(TIMINGS, api_key="a-users-own-secret-key-4242")
    report, emu = await run_probe(config, with_job=video)
    texts = [report.to_json(), report.to_markdown()]
    for text in texts:
        assert emu.api_key not in text
        assert emu.storage.security_token not in text
        assert not re.search(r"(job|file|take|client)-[0-9a-f]{8}", text)
        assert "Signature" not in text
        assert "Expires=" not in text
        assert "/s3/" not in text


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("name", ["default", "readiness-all-at-once", "all-unlike-default"])
async def test_report_and_config_play_back_as_the_same_report(name: str, video: Path) -> None:
    first, _ = await run_probe(replace(TIMINGS, variants=VARIANTS[name]), with_job=video)
    played = EmulatorConfig.from_json(first.emulator_config().to_json())
    assert played.variants == VARIANTS[name]
    again, _ = await run_probe(replace(played, output_size=256), with_job=video)
    assert verdicts(again) == verdicts(first)
    assert again.named_variant == first.named_variant == name
    data = json.loads(first.to_json())
    assert EmulatorConfig.from_dict(data["emulator_config"]) == first.emulator_config()


def test_every_document_of_the_probe_is_valid_against_the_schema() -> None:
    schema = load_schema()
    for name, operation in DOCUMENTS.items():
        assert operation.name == name
        assert validate(schema, parse(operation.document)) == [], name


async def test_a_gateways_rate_exceeded_answer_is_a_rate_limit_error() -> None:
    config = EmulatorConfig(
        variants=Variants(throttling="gateway503"), faults={"graphql": RouteFaults(rate_429=1.0)}
    )
    async with Emulator(config) as emu, emu_client_no_retry(emu) as ugc:
        with pytest.raises(RateLimitError) as caught:
            await ugc.client.retrieve()
    assert caught.value.status == 503
    assert caught.value.retry_after == 1.0


def emu_client_no_retry(emu: Emulator):  # type: ignore[no-untyped-def]
    from aio_move_ugc import AsyncMoveUgc

    return AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url, max_retries=0)


@pytest.mark.parametrize(
    "label",
    [
        "https://bucket.s3.amazonaws.com/job-1f2e3d4c/main.fbx?X-Amz-Signature=abc&X-Amz-Security-Token=t",
        "job-1f2e3d4c-aaaa-bbbb_main_fbx",
        "a-users-own-secret-key-4242",
    ],
)
async def test_whatever_the_service_answers_reaches_the_report_scrubbed(label: str) -> None:
    """A label is copied into the report; one holding a URL, an id or the key loses them."""
    config = replace(TIMINGS, api_key="a-users-own-secret-key-4242")
    async with Emulator(config) as emu:
        run = Probe(
            api_key=emu.api_key,
            endpoint_url=emu.endpoint_url,
            budget=1,
            read_only=True,
            video=None,
            clock=Clock(emu),
            max_wait=1.0,
            job_timeout=1.0,
            timeout=Timeout(),
        )
        run.outputs = Outputs(labels=[(label, label, None)], source="an existing finished job")
        found = judge_labels(run.outputs)
        found.observed, found.details = run.scrub(found.observed), run.scrub(found.details)
        await run.transport.aclose()
    text = json.dumps(asdict(found))
    for secret in ("Signature=", "Security-Token", "1f2e3d4c", "secret-key", "abc"):
        assert secret not in text
