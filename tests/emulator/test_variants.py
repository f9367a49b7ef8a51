"""Each variant of the hosted service's unobserved behaviours, played over real HTTP."""

from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path
from typing import Any, get_args

import aiohttp
import pytest

from aio_move_ugc.emulator import (
    INVENTED_LIMITS,
    VARIANTS,
    Emulator,
    EmulatorConfig,
    MissingMetadata,
    OutputLabels,
    Readiness,
    RouteFaults,
    Throttling,
    Variants,
    _limits,
)
from tests.support import MakeEmulator

from .support import GraphQLClient, Receiver
from .test_graphql import CREATE_VOLUME, multicam_sources
from .test_webhooks_delivery import subscribe

QUEUE, DURATION, LAG = 10.0, 100.0, 40.0
"""Slow timings: the tests move the emulator's clock instead of waiting."""
OUTPUTS = ["MAIN_FBX", "RENDER_VIDEO", "RENDER_OVERLAY_VIDEO", "MOTION_DATA"]


def slow(variants: Variants, **extra: Any) -> dict[str, Any]:
    return {
        "variants": variants,
        "job_queue_delay": QUEUE,
        "job_duration": DURATION,
        "output_lag": LAG,
        **extra,
    }


# ------------------------------------------------------------------ the registry


def test_the_default_variant_is_the_default_of_every_axis() -> None:
    assert VARIANTS["default"] == Variants() == EmulatorConfig().variants
    assert Variants().describe() == "default"


def test_named_variants_cover_every_value_of_every_axis() -> None:
    axes = {
        "output_labels": get_args(OutputLabels),
        "readiness": get_args(Readiness),
        "throttling": get_args(Throttling),
        "missing_metadata": get_args(MissingMetadata),
    }
    assert set(axes) | {"throttle_error_type"} == {f.name for f in fields(Variants)}
    for axis, values in axes.items():
        played = {getattr(v, axis) for v in VARIANTS.values()}
        assert played == set(values), axis
    for name, variants in VARIANTS.items():
        assert isinstance(variants, Variants)
        assert name == "default" or variants.describe() != "default", name


@pytest.mark.parametrize(
    "bad",
    [
        {"output_labels": "MAIN_FBX"},
        {"readiness": "later"},
        {"throttling": "http418"},
        {"missing_metadata": "none"},
        {"throttle_error_type": "Slow"},
        {"throttle_error_type": "ThrottlingException", "throttling": "gateway503"},
    ],
)
def test_variants_refuse_unknown_values(bad: dict[str, Any]) -> None:
    from aio_move_ugc import ConfigurationError

    with pytest.raises(ConfigurationError) as caught:
        Variants(**bad)
    assert isinstance(caught.value, ValueError)
    assert next(iter(bad)) in str(caught.value)


@pytest.mark.parametrize(
    "bad",
    [
        {"failure_rate": 2.0},
        {"failure_rate": math.nan},
        {"failure_rate": -0.1},
        {"job_duration": math.nan},
        {"job_duration": math.inf},
        {"output_lag": -1.0},
        {"hourly_request_budget": 0},
        {"hourly_request_budget": True},
        {"hourly_request_budget": 2.5},
        {"url_ttl": 0.0},
        {"output_size": -1},
        {"seed": -1},
        {"api_key": "short"},
        {"webhook_retry_delays": (0.1, math.nan)},
        {"variants": "labels-lower"},
        {"faults": {"graphql": RouteFaults(expire_rate=0.5)}},
        {"faults": {"elsewhere": RouteFaults()}},
    ],
)
def test_emulator_config_refuses_bad_values(bad: dict[str, Any]) -> None:
    from aio_move_ugc import ConfigurationError

    with pytest.raises(ConfigurationError):
        EmulatorConfig(**bad)


@pytest.mark.parametrize(
    "bad",
    [{"rate_429": 1.5}, {"rate_500": math.nan}, {"latency": math.nan}, {"latency": -1.0}],
)
def test_route_faults_refuse_bad_values(bad: dict[str, Any]) -> None:
    from aio_move_ugc import ConfigurationError

    with pytest.raises(ConfigurationError):
        RouteFaults(**bad)


def test_every_invented_limit_is_listed_once_with_its_value() -> None:
    names = [limit.name for limit in INVENTED_LIMITS]
    assert len(names) == len(set(names))
    for limit in INVENTED_LIMITS:
        assert getattr(_limits, limit.name) == limit.value
        assert limit.rule
    public = {n for n in dir(_limits) if n.isupper() and n != "INVENTED_LIMITS"}
    assert public == set(names)


# ------------------------------------------------------------------ output labels


async def _finished_job(emu: Emulator, gql: GraphQLClient, outputs: list[str]) -> str:
    job_id: str = (await gql.singlecam_job(outputs=outputs))["id"]
    emu.advance(QUEUE + DURATION + LAG + 1)
    return job_id


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ("type", ["MAIN_FBX", "RENDER_VIDEO", "RENDER_OVERLAY_VIDEO", "MOTION_DATA"]),
        ("lower", ["main_fbx", "render_video", "render_overlay_video", "motion_data"]),
        ("extension", ["fbx", "mp4", "mp4", "json"]),
    ],
)
async def test_output_labels(
    make_emulator: MakeEmulator,
    session: aiohttp.ClientSession,
    labels: OutputLabels,
    expected: list[str],
) -> None:
    async with make_emulator(**slow(Variants(output_labels=labels))) as emu:
        gql = GraphQLClient(session, emu)
        job = await gql.job(await _finished_job(emu, gql, OUTPUTS))
        assert [o["format"] for o in job["outputs"]] == expected
        assert [o["key"] for o in job["outputs"]] == expected
        # Listed in the order requested, each the file of its own type whatever its label.
        for output_type, output in zip(OUTPUTS, job["outputs"], strict=True):
            content = await gql.get_bytes(output["file"]["presignedUrl"])
            assert f" {output_type} of {job['id']}".encode() in content.splitlines()[0]


# ------------------------------------------------------------------ readiness


def _seen(job: dict[str, Any]) -> list[tuple[str, bool]]:
    return [(o["format"], o["file"]["presignedUrl"] is not None) for o in job["outputs"]]


@pytest.mark.parametrize(
    ("readiness", "at_finish", "halfway", "after_lag"),
    [
        (
            "null_urls",
            [(t, False) for t in OUTPUTS],
            [(t, False) for t in OUTPUTS],
            [(t, True) for t in OUTPUTS],
        ),
        (
            "one_by_one",
            [],
            [(t, True) for t in OUTPUTS[:2]],
            [(t, True) for t in OUTPUTS],
        ),
        ("all_at_once", [], [], [(t, True) for t in OUTPUTS]),
    ],
)
async def test_readiness(
    make_emulator: MakeEmulator,
    session: aiohttp.ClientSession,
    readiness: Readiness,
    at_finish: list[tuple[str, bool]],
    halfway: list[tuple[str, bool]],
    after_lag: list[tuple[str, bool]],
) -> None:
    async with make_emulator(**slow(Variants(readiness=readiness))) as emu:
        gql = GraphQLClient(session, emu)
        job_id = (await gql.singlecam_job(outputs=OUTPUTS))["id"]
        emu.advance(QUEUE + DURATION + 1)
        job = await gql.job(job_id)
        assert job["progress"]["state"] == "FINISHED"
        assert _seen(job) == at_finish
        emu.advance(LAG / 2)  # 21 s into the 40 s lag: two of four steps of 10 s
        assert _seen(await gql.job(job_id)) == halfway
        emu.advance(LAG / 2)
        assert _seen(await gql.job(job_id)) == after_lag


async def test_one_by_one_lists_one_more_output_per_step(
    make_emulator: MakeEmulator, session: aiohttp.ClientSession
) -> None:
    async with make_emulator(**slow(Variants(readiness="one_by_one"))) as emu:
        gql = GraphQLClient(session, emu)
        job_id = (await gql.singlecam_job(outputs=OUTPUTS))["id"]
        emu.advance(QUEUE + DURATION + 0.5)
        step = LAG / len(OUTPUTS)
        for count in range(1, len(OUTPUTS) + 1):
            emu.advance(step)
            assert _seen(await gql.job(job_id)) == [(t, True) for t in OUTPUTS[:count]]


async def test_a_failed_job_lists_no_outputs_in_any_readiness(
    make_emulator: MakeEmulator, session: aiohttp.ClientSession
) -> None:
    for readiness in get_args(Readiness):
        async with make_emulator(**slow(Variants(readiness=readiness), failure_rate=1.0)) as emu:
            gql = GraphQLClient(session, emu)
            job_id = await _finished_job(emu, gql, OUTPUTS)
            job = await gql.job(job_id)
            assert (job["progress"]["state"], job["outputs"]) == ("FAILED", []), readiness


# ------------------------------------------------------------------ throttling

THROTTLE_SHAPES = [
    # throttling, errorType asked for, status, errorType answered, Retry-After sent
    ("http429", None, 429, "TooManyRequestsException", True),
    ("appsync200", None, 200, "ThrottlingException", False),
    ("appsync200", "Throttling", 200, "Throttling", False),
    ("appsync200", "LimitExceeded", 200, "LimitExceeded", False),
    ("http400", None, 400, "ThrottlingException", False),
    ("http400", "TooManyRequests", 400, "TooManyRequests", False),
    ("http400", "LimitExceededException", 400, "LimitExceededException", False),
    ("gateway503", None, 503, None, True),
]
CLIENT_QUERY = "query { client { id } }"


async def _raw(session: aiohttp.ClientSession, emu: Emulator) -> tuple[int, Any, str | None]:
    async with session.post(
        emu.endpoint_url, json={"query": CLIENT_QUERY}, headers={"Authorization": emu.api_key}
    ) as resp:
        return resp.status, await resp.json(content_type=None), resp.headers.get("Retry-After")


def _check_throttled(
    answer: tuple[int, Any, str | None],
    status: int,
    error_type: str | None,
    retry_after: bool,
) -> str | None:
    got_status, body, got_retry_after = answer
    assert got_status == status, body
    if error_type is None:
        assert body == {"message": "Rate exceeded"}
    else:
        assert [e["errorType"] for e in body["errors"]] == [error_type]
        assert body.get("data") is None
    assert (got_retry_after is not None) == retry_after
    return got_retry_after


@pytest.mark.parametrize(
    ("throttling", "asked", "status", "error_type", "retry_after"), THROTTLE_SHAPES
)
async def test_an_injected_429_is_answered_in_the_variants_shape(
    make_emulator: MakeEmulator,
    session: aiohttp.ClientSession,
    throttling: Throttling,
    asked: str | None,
    status: int,
    error_type: str | None,
    retry_after: bool,
) -> None:
    variants = Variants(throttling=throttling, throttle_error_type=asked)
    faults = {"graphql": RouteFaults(rate_429=1.0)}
    async with make_emulator(variants=variants, faults=faults) as emu:
        answer = await _raw(session, emu)
        assert _check_throttled(answer, status, error_type, retry_after) in (None, "1")
        assert emu.stats.faults["graphql 429"] == 1


@pytest.mark.parametrize(
    ("throttling", "asked", "status", "error_type", "retry_after"), THROTTLE_SHAPES
)
async def test_the_hourly_budget_is_enforced_in_the_variants_shape(
    make_emulator: MakeEmulator,
    session: aiohttp.ClientSession,
    throttling: Throttling,
    asked: str | None,
    status: int,
    error_type: str | None,
    retry_after: bool,
) -> None:
    variants = Variants(throttling=throttling, throttle_error_type=asked)
    async with make_emulator(variants=variants, hourly_request_budget=2) as emu:
        for _ in range(2):
            ok_status, body, _ = await _raw(session, emu)
            assert ok_status == 200
            assert "errors" not in body
        header = _check_throttled(await _raw(session, emu), status, error_type, retry_after)
        if header is not None:
            assert 3000 < int(header) <= 3600  # until the first request leaves the hour
        assert emu.stats.faults["graphql budget"] == 1
        emu.advance(3601)
        assert (await _raw(session, emu))[0] == 200


# ------------------------------------------------------------------ metadata

EVERYTHING = """
query($file: ID!, $take: ID!, $job: ID!, $volume: ID!, $output: ID!) {
  client { metadata }
  upload: getFile(fileId: $file) { metadata }
  output: getFile(fileId: $output) { metadata }
  getTake(takeId: $take) { metadata }
  getJob(jobId: $job) { metadata }
  getVolume(id: $volume) { ... on HumanVolume { metadata } }
}
"""
UPSERT = """
mutation($url: String!) {
  upsertWebhookEndpoint(uid: "m", url: $url, events: ["ugc.job.state.completed"]) { metadata }
}
"""


async def _metadata_of_everything(emu: Emulator, gql: GraphQLClient) -> dict[str, Any]:
    file_id = await gql.upload()
    take_id = await gql.singlecam_take(file_id)
    job_id = await _finished_job(emu, gql, ["MAIN_FBX"])
    output_id = (await gql.job(job_id))["outputs"][0]["file"]["id"]
    cameras = [await gql.upload(content=f"camera {i}".encode()) for i in range(2)]
    volume = await gql.data(
        CREATE_VOLUME, {"sources": multicam_sources(cameras), "height": 1.8, "area": "NORMAL"}
    )
    data = await gql.data(
        EVERYTHING,
        {
            "file": file_id,
            "take": take_id,
            "job": job_id,
            "volume": volume["createVolumeWithHuman"]["id"],
            "output": output_id,
        },
    )
    hook = await gql.data(UPSERT, {"url": "http://127.0.0.1:9/hook"})
    return {
        "client": data["client"]["metadata"],
        "file": data["upload"]["metadata"],
        "output": data["output"]["metadata"],
        "take": data["getTake"]["metadata"],
        "job": data["getJob"]["metadata"],
        "volume": data["getVolume"]["metadata"],
        "webhook": hook["upsertWebhookEndpoint"]["metadata"],
    }


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (
            "mixed",
            {
                "client": "{}",
                "file": None,
                "output": "{}",
                "take": None,
                "job": "{}",
                "volume": None,
                "webhook": None,
            },
        ),
        ("null", dict.fromkeys(["client", "file", "output", "take", "job", "volume", "webhook"])),
        (
            "empty_json",
            dict.fromkeys(["client", "file", "output", "take", "job", "volume", "webhook"], "{}"),
        ),
    ],
)
async def test_missing_metadata(
    make_emulator: MakeEmulator,
    session: aiohttp.ClientSession,
    mode: MissingMetadata,
    expected: dict[str, Any],
) -> None:
    async with make_emulator(**slow(Variants(missing_metadata=mode), volume_duration=0)) as emu:
        gql = GraphQLClient(session, emu)
        assert await _metadata_of_everything(emu, gql) == expected


@pytest.mark.parametrize("mode", get_args(MissingMetadata))
async def test_given_metadata_reads_back_as_given_in_every_mode(
    make_emulator: MakeEmulator, session: aiohttp.ClientSession, mode: MissingMetadata
) -> None:
    async with make_emulator(**slow(Variants(missing_metadata=mode))) as emu:
        gql = GraphQLClient(session, emu)
        file = await gql.create_file(metadata='{"a":1}')
        job = await gql.data(
            "mutation($take: String!) {"
            ' createSingleCamJob(takeId: $take, metadata: "{\\"b\\":2}") { metadata } }',
            {"take": await gql.singlecam_take()},
        )
        client = await gql.data('mutation { updateClient(metadata: "[]") { metadata } }')
        assert file["metadata"] == '{"a":1}'
        assert job["createSingleCamJob"]["metadata"] == '{"b":2}'
        assert client["updateClient"]["metadata"] == "[]"


def test_the_assumptions_page_names_every_variant_value_and_invented_limit() -> None:
    page = (Path(__file__).parents[2] / "docs" / "emulator-assumptions.md").read_text()
    for name in VARIANTS:
        assert f"| `{name}` |" in page, name
    for values in (
        get_args(OutputLabels),
        get_args(Readiness),
        get_args(Throttling),
        get_args(MissingMetadata),
    ):
        for value in values:
            assert f"`{value}`" in page, value
    for limit in INVENTED_LIMITS:
        assert f"`{limit.name}`" in page, limit.name


@pytest.mark.parametrize("port", [-1, 65536, 70000])
def test_the_emulator_refuses_a_port_out_of_range(port: int) -> None:
    from aio_move_ugc import ConfigurationError

    with pytest.raises(ConfigurationError, match="port"):
        Emulator(port=port)


@pytest.mark.parametrize(
    ("variants", "outputs", "job_metadata", "take_metadata"),
    [
        (Variants(), ["MAIN_FBX", "RENDER_VIDEO"], "{}", None),
        (
            Variants(output_labels="lower", missing_metadata="null"),
            ["main_fbx", "render_video"],
            None,
            None,
        ),
        (
            Variants(output_labels="extension", missing_metadata="empty_json"),
            ["fbx", "mp4"],
            "{}",
            "{}",
        ),
    ],
)
async def test_webhook_deliveries_follow_the_variant(
    make_emulator: MakeEmulator,
    session: aiohttp.ClientSession,
    variants: Variants,
    outputs: list[str],
    job_metadata: str | None,
    take_metadata: str | None,
) -> None:
    async with Receiver() as receiver, make_emulator(variants=variants) as emu:
        gql = GraphQLClient(session, emu)
        await subscribe(gql, receiver.url, ["ugc.job.state.completed"])
        await gql.singlecam_job(outputs=["MAIN_FBX", "RENDER_VIDEO"])
        [(_, body)] = await receiver.wait_for(1)
        attributes = json.loads(body)["detail"]["event_attributes"]
        assert attributes["job"]["outputs"] == outputs
        assert attributes["job"]["metadata"] == job_metadata
        assert attributes["take"]["metadata"] == take_metadata
