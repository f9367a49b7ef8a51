"""Bad input gets a typed error before anything is sent."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aio_move_ugc import (
    AsyncMoveUgc,
    AsyncPager,
    ConfigurationError,
    InvalidInputError,
    OutputType,
    SourceIn,
)
from aio_move_ugc import _inputs as inputs
from aio_move_ugc import _validation as check
from aio_move_ugc.emulator import Emulator
from tests.support import FAST

TAKE = "take-3f2a9c1e-0000-4000-8000-000000000001"
FILE = "file-3f2a9c1e-0000-4000-8000-000000000002"
FILE2 = "file-3f2a9c1e-0000-4000-8000-000000000003"
VOLUME = "volume-3f2a9c1e-0000-4000-8000-000000000004"
LENS = {"lens": "goprohero10-2-7k"}


def video(label: str = "cam", file_id: str = FILE, **extra: Any) -> dict[str, Any]:
    return {"device_label": label, "file_id": file_id, "format": "MP4", **extra}


def circular() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    return loop


def deep(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels):
        value = [value]
    return value


Call = Callable[[AsyncMoveUgc], Awaitable[Any]]


async def _first_page(pager: AsyncPager[Any]) -> Any:
    return await pager


BAD: dict[str, Call] = {
    # ids of the wrong kind
    "job id for a file": lambda u: u.files.retrieve("job-3f2a9c1e"),
    "take id for a job": lambda u: u.jobs.retrieve(TAKE),
    "file id for a take": lambda u: u.takes.retrieve(FILE),
    "short volume prefix": lambda u: u.volumes.retrieve_human_volume("vol-1"),
    "prefix only": lambda u: u.jobs.update("job-", name="x"),
    "id with a space": lambda u: u.jobs.retrieve("job-3f2a 9c1e"),
    "id with a newline": lambda u: u.files.update("file-1\n", name="x"),
    "id not a string": lambda u: u.jobs.retrieve(123),  # type: ignore[arg-type]
    "empty id": lambda u: u.files.generate_share_code(""),
    "job of a job": lambda u: u.jobs.create_singlecam("job-1"),
    "list jobs of a file": lambda u: _first_page(u.jobs.list(take_id=FILE)),
    "multicam take of a take": lambda u: u.takes.create_multicam(
        [video("a", camera_settings=LENS), video("b", FILE2, camera_settings=LENS)],
        volume_id=TAKE,
    ),
    "source file id of a take": lambda u: u.takes.create_singlecam([video(file_id=TAKE)]),
    # outputs
    "unknown output type": lambda u: u.jobs.create_singlecam(TAKE, outputs=["MAIN_FBXX"]),
    "outputs as one string": lambda u: u.jobs.create_singlecam(TAKE, outputs="MAIN_FBX"),
    "outputs not a list": lambda u: u.jobs.create_multicam(TAKE, outputs=5),  # type: ignore[arg-type]
    "output None": lambda u: u.jobs.create_singlecam(TAKE, outputs=[None]),  # type: ignore[list-item]
    # sources
    "two videos for singlecam": lambda u: u.takes.create_singlecam([video("a"), video("b", FILE2)]),
    "no video for singlecam": lambda u: u.takes.create_singlecam(
        [{"device_label": "a", "file_id": FILE, "format": "MOVE"}]
    ),
    "move of another device": lambda u: u.takes.create_singlecam(
        [video("a"), {"device_label": "b", "file_id": FILE2, "format": "MOVE"}]
    ),
    "no sources": lambda u: u.takes.create_singlecam([]),
    "sources as a string": lambda u: u.takes.create_singlecam("file-1"),  # type: ignore[arg-type]
    "unknown source format": lambda u: u.takes.create_singlecam([video(format="MKV")]),
    "empty device label": lambda u: u.takes.create_singlecam([video("")]),
    "unknown source field": lambda u: u.takes.create_singlecam([video(lens="x")]),
    "unknown camera settings field": lambda u: u.volumes.create_human_volume(
        [
            video("a", camera_settings={"lens": "x", "zoom": 2}),
            video("b", FILE2, camera_settings=LENS),
        ],
        human_height=1.8,
        area_type="NORMAL",
    ),
    "one camera for multicam": lambda u: u.takes.create_multicam(
        [video(camera_settings=LENS)], volume_id=VOLUME
    ),
    "multicam without lens": lambda u: u.volumes.create_human_volume(
        [video("a"), video("b", FILE2)], human_height=1.8, area_type="NORMAL"
    ),
    # metadata
    "metadata not JSON": lambda u: u.files.create("mp4", metadata={"when": object()}),
    "metadata a set": lambda u: u.jobs.update("job-1", metadata={1, 2}),
    "metadata NaN": lambda u: u.takes.update(TAKE, metadata={"x": math.nan}),
    "metadata infinity": lambda u: u.client.update(metadata=[math.inf]),
    "metadata circular": lambda u: u.files.update(FILE, metadata=circular()),
    "metadata too deep": lambda u: u.files.create("mp4", metadata=deep(100_000)),
    "metadata bytes": lambda u: u.files.create("mp4", metadata=b"raw"),
    "client metadata missing": lambda u: u.client.update(metadata=None),
    # pages
    "zero page size": lambda u: _first_page(u.jobs.list(limit=0)),
    "negative page size": lambda u: _first_page(u.takes.list(limit=-1)),
    "float page size": lambda u: _first_page(u.jobs.list(limit=2.0)),  # type: ignore[arg-type]
    "bool page size": lambda u: _first_page(u.jobs.list(limit=True)),
    "unknown sort": lambda u: _first_page(u.takes.list(sort_by="SIDEWAYS")),
    # expand
    "unknown expand word": lambda u: u.jobs.retrieve("job-1", expand=["everything"]),
    "expand word of another kind": lambda u: u.files.retrieve(FILE, expand=["outputs"]),
    "expand in a list call": lambda u: _first_page(u.takes.list(expand=["rig"])),
    "expand not a list": lambda u: u.jobs.retrieve("job-1", expand=5),  # type: ignore[arg-type]
    "expand of lists": lambda u: u.jobs.retrieve("job-1", expand=[["take"]]),  # type: ignore[list-item]
    # clip window
    "clip ends before it starts": lambda u: u.jobs.create_singlecam(
        TAKE, clip_window={"start_time": 5, "end_time": 2}
    ),
    "clip of no length": lambda u: u.jobs.create_singlecam(
        TAKE, clip_window={"start_time": 2, "end_time": 2}
    ),
    "clip before zero": lambda u: u.jobs.create_multicam(
        TAKE, clip_window={"start_time": -1, "end_time": 2}
    ),
    "clip NaN": lambda u: u.jobs.create_singlecam(
        TAKE, clip_window={"start_time": math.nan, "end_time": 2}
    ),
    "clip without end": lambda u: u.jobs.create_singlecam(TAKE, clip_window={"start_time": 1}),
    "clip of words": lambda u: u.jobs.create_singlecam(
        TAKE, clip_window={"start_time": "one", "end_time": "two"}
    ),
    "clip with an unknown field": lambda u: u.volumes.create_human_volume(
        [video("a", camera_settings=LENS), video("b", FILE2, camera_settings=LENS)],
        human_height=1.8,
        area_type="NORMAL",
        clip_window={"start_time": 0, "end_time": 1, "fps": 30},
    ),
    # webhooks
    "webhook url not a url": lambda u: u.webhooks.upsert(["e"], uid="h", url="not a url"),
    "webhook url ftp": lambda u: u.webhooks.upsert(["e"], uid="h", url="ftp://x.test/"),
    "webhook secret without prefix": lambda u: u.webhooks.upsert(
        ["e"], uid="h", url="https://x.test/", secret="abc"
    ),
    "webhook secret not a string": lambda u: u.webhooks.upsert(
        ["e"],
        uid="h",
        url="https://x.test/",
        secret=5,  # type: ignore[arg-type]
    ),
    "webhook without events": lambda u: u.webhooks.upsert([], uid="h", url="https://x.test/"),
    "webhook events as a string": lambda u: u.webhooks.upsert(
        "ugc.job.state.completed", uid="h", url="https://x.test/"
    ),
    "webhook blank event": lambda u: u.webhooks.upsert([" "], uid="h", url="https://x.test/"),
    "webhook blank uid": lambda u: u.webhooks.upsert(["e"], uid="", url="https://x.test/"),
    # other values
    "file type that is no extension": lambda u: u.files.create("m/p4"),
    "file type not a string": lambda u: u.files.create(4),  # type: ignore[arg-type]
    "name not a string": lambda u: u.files.create("mp4", name=5),  # type: ignore[arg-type]
    "name with NUL": lambda u: u.takes.update(TAKE, name="a\x00b"),
    "zero actors": lambda u: u.jobs.create_multicam(TAKE, number_of_actors=0),
    "fractional actors": lambda u: u.jobs.create_multicam(TAKE, number_of_actors=1.5),  # type: ignore[arg-type]
    "blank rig": lambda u: u.jobs.create_multicam(TAKE, rig=""),
    "unknown mocap model": lambda u: u.jobs.create_singlecam(TAKE, options={"mocap_model": "X9"}),
    "options as a string": lambda u: u.jobs.create_singlecam(TAKE, options="fast"),  # type: ignore[arg-type]
    "zero height": lambda u: u.volumes.create_human_volume(
        [video("a", camera_settings=LENS), video("b", FILE2, camera_settings=LENS)],
        human_height=0,
        area_type="NORMAL",
    ),
    "infinite height": lambda u: u.volumes.create_human_volume(
        [video("a", camera_settings=LENS), video("b", FILE2, camera_settings=LENS)],
        human_height=math.inf,
        area_type="NORMAL",
    ),
    "unknown area type": lambda u: u.volumes.create_human_volume(
        [video("a", camera_settings=LENS), video("b", FILE2, camera_settings=LENS)],
        human_height=1.8,
        area_type="HUGE",
    ),
    "bad sync method": lambda u: u.takes.create_multicam(
        [video("a", camera_settings=LENS), video("b", FILE2, camera_settings=LENS)],
        volume_id=VOLUME,
        sync_method={"clap_window": {"start_time": "soon"}},
    ),
}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared_emu() -> AsyncIterator[Emulator]:
    """One emulator for the many calls that must never reach it."""
    async with Emulator(FAST) as emu:
        yield emu


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("call", BAD.values(), ids=BAD.keys())
async def test_refused_before_sending(call: Call, shared_emu: Emulator) -> None:
    sent = shared_emu.stats.graphql_requests
    async with AsyncMoveUgc(shared_emu.api_key, endpoint_url=shared_emu.endpoint_url) as ugc:
        with pytest.raises(InvalidInputError) as caught:
            await call(ugc)
        assert ugc.requests_sent == 0
    assert isinstance(caught.value, ValueError)
    assert not isinstance(caught.value, ConfigurationError)
    assert str(caught.value)
    assert shared_emu.stats.graphql_requests == sent == 0


async def test_good_input_of_the_same_calls_is_sent(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    """The same calls with the mistakes removed get past the checks (and reach the service)."""
    from aio_move_ugc import NotFoundError

    with pytest.raises(NotFoundError):
        await ugc.jobs.create_singlecam(
            TAKE,
            outputs=["main_fbx", OutputType.MAIN_USDZ],
            clip_window={"start_time": 0, "end_time": 2},
            options={"mocap_model": "s2", "track_fingers": True},
            metadata={"nested": [1, 2.5, None, "x"]},
        )
    assert emu.stats.graphql_requests == 1


# ------------------------------------------------------------------ property tests

FEW = settings(max_examples=40, deadline=None)
"""Enough examples to find the edges of these small functions, few enough to stay quick."""

PREFIXES = st.sampled_from(["file", "take", "job", "volume", "client"])


@FEW
@given(PREFIXES, st.uuids())
def test_identifier_accepts_every_real_shaped_id(prefix: str, uuid: Any) -> None:
    value = f"{prefix}-{uuid}"
    assert check.identifier(value, prefix) == value


@FEW
@given(PREFIXES, st.text(max_size=250))
@example("job", "")
@example("job", "a b")
@example("job", "x" * 200)
def test_identifier_accepts_only_prefixed_printable_ids(prefix: str, rest: str) -> None:
    value = f"{prefix}-{rest}"
    try:
        result = check.identifier(value, prefix)
    except InvalidInputError:
        assert not rest or len(value) > 200 or any(c.isspace() or not c.isprintable() for c in rest)
    else:
        assert result == value
        assert rest
        assert len(value) <= 200
        assert all(c.isprintable() and not c.isspace() for c in value)


@FEW
@given(PREFIXES, PREFIXES, st.text(min_size=1, max_size=40))
def test_identifier_refuses_other_prefixes(prefix: str, other: str, rest: str) -> None:
    value = f"{other}-{rest}"
    if value.startswith(f"{prefix}-"):
        return
    if prefix == "volume" and other == "job":
        return  # the schema: a volume's id "is the volume job id" (accepted: test_off_the_path)
    with pytest.raises(InvalidInputError):
        check.identifier(value, prefix)


@FEW
@given(st.one_of(st.none(), st.integers(), st.floats(), st.binary(), st.lists(st.text())))
def test_identifier_refuses_what_is_not_a_string(value: Any) -> None:
    if value is None or not isinstance(value, str):
        with pytest.raises(InvalidInputError):
            check.identifier(value, "job")


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@FEW
@given(JSON)
def test_metadata_round_trips_through_awsjson(value: Any) -> None:
    encoded = check.metadata(value)
    if value is None:
        assert encoded is None
        return
    assert isinstance(encoded, str)
    assert json.loads(encoded) == value


@FEW
@given(JSON, st.sampled_from([math.nan, math.inf, -math.inf]))
def test_metadata_refuses_non_finite_numbers_anywhere(value: Any, bad: float) -> None:
    with pytest.raises(InvalidInputError):
        check.metadata({"ok": value, "bad": [bad]})


@FEW
@given(
    st.one_of(
        st.builds(object),
        st.sets(st.integers(), min_size=1),
        st.binary(),
        st.complex_numbers(),
        st.dictionaries(st.tuples(st.integers()), st.integers(), min_size=1),
    )
)
def test_metadata_refuses_what_json_cannot_hold(value: Any) -> None:
    with pytest.raises(InvalidInputError):
        check.metadata({"value": value})


CASINGS = st.sampled_from([str.upper, str.lower, str.title, lambda s: s])


@FEW
@given(st.lists(st.tuples(st.sampled_from(list(OutputType)), CASINGS, st.booleans())))
def test_outputs_normalise_and_deduplicate(picks: list[tuple[OutputType, Any, bool]]) -> None:
    values = [member if as_enum else case(member.value) for member, case, as_enum in picks]
    result = check.outputs(values)
    expected = list(dict.fromkeys(member.value for member, _, _ in picks))
    assert result == (expected or None)


@FEW
@given(st.lists(st.text(max_size=20), min_size=1))
def test_outputs_refuse_unknown_names(names: list[str]) -> None:
    known = {m.value for m in OutputType}
    if all(n.strip().upper() in known for n in names):
        assert check.outputs(names) is not None
    else:
        with pytest.raises(InvalidInputError):
            check.outputs(names)


@FEW
@given(
    st.one_of(
        st.integers(),
        st.floats(),
        st.text(min_size=1),
        st.builds(object),
        st.lists(st.integers(), min_size=1),
        st.lists(st.lists(st.text()), min_size=1),
    )
)
def test_outputs_refuse_what_is_not_a_list_of_names(value: Any) -> None:
    with pytest.raises(InvalidInputError):
        check.outputs(value)


def test_outputs_none_means_the_defaults() -> None:
    assert check.outputs(None) is None
    assert check.outputs([]) is None


def test_source_in_is_what_the_sync_sdk_calls_it() -> None:
    source = SourceIn.model_validate({"device_label": "cam", "file_id": FILE, "format": "mov"})
    assert inputs.sources([source], multicam=False) == [
        {"deviceLabel": "cam", "fileId": FILE, "format": "MOV"}
    ]
