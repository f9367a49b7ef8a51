"""A clean answer is read straight from its bytes into its model; whatever that path accepts,
it reads exactly as the general path (`json.loads`, then `parse`) does, and whatever it does
not read is left to the general path (which explains errors)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aio_move_ugc import UnexpectedResponseError
from aio_move_ugc._answers import decoder, parse
from aio_move_ugc.types._models import File, Job, Take

STATES = st.sampled_from(["FINISHED", "finished", "Running", "NOT_STARTED", "SOMETHING_NEW"])
STAMPS = st.sampled_from(["2026-01-01T00:00:00Z", "2026-11-29T22:00:00.123+01:00"])
TEXT = st.text(max_size=12)
METADATA = st.one_of(
    st.none(),
    st.just('{"take": 3, "tags": ["a", "b"]}'),
    st.just("not json"),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3).map(json.dumps),
)
FILES = st.fixed_dictionaries(
    {"id": st.from_regex(r"file-[a-z0-9]{1,8}", fullmatch=True)},
    optional={
        "type": st.sampled_from(["mp4", "fbx", None]),
        "presignedUrl": st.just("http://127.0.0.1:1/b/o?X-Amz-Signature=abc"),
        "created": STAMPS,
        "metadata": METADATA,
        "somethingNew": st.integers(),
    },
)
OUTPUTS = st.lists(
    st.fixed_dictionaries(
        {"file": FILES}, optional={"key": st.sampled_from(["MAIN_FBX", "main_fbx", "Render"])}
    ),
    max_size=3,
)
JOBS = st.fixed_dictionaries(
    {"id": st.from_regex(r"job-[a-z0-9]{1,8}", fullmatch=True)},
    optional={
        "state": STATES,
        "name": st.one_of(st.none(), TEXT),
        "created": STAMPS,
        "metadata": METADATA,
        "progress": st.one_of(
            st.none(), st.fixed_dictionaries({"percentageComplete": st.integers(0, 100)})
        ),
        "outputs": st.one_of(st.none(), OUTPUTS),
        "unlistedField": st.one_of(st.integers(), TEXT),
    },
)


def both_ways(model: type[Any], root: str, payload: dict[str, Any]) -> tuple[Any, Any]:
    raw = json.dumps(payload).encode()
    fast = decoder(model, root)(raw)
    general = parse(model, json.loads(raw)["data"][root], "Op")
    return fast, general


@settings(max_examples=200, deadline=None)
@given(JOBS)
def test_a_job_read_from_bytes_equals_the_job_parsed(job: dict[str, Any]) -> None:
    fast, general = both_ways(Job, "getJob", {"data": {"getJob": job}})
    assert fast is not None
    assert fast == general
    assert fast.model_extra == general.model_extra
    assert fast.model_fields_set == general.model_fields_set


@settings(max_examples=100, deadline=None)
@given(FILES)
def test_a_file_read_from_bytes_equals_the_file_parsed(file: dict[str, Any]) -> None:
    fast, general = both_ways(File, "getFile", {"data": {"getFile": file}, "extensions": {}})
    assert fast is not None
    assert fast == general


def test_a_take_keeps_its_nested_sources_and_unknown_keys() -> None:
    take = {
        "id": "take-1",
        "sources": [{"deviceLabel": "cam", "format": "mp4", "file": {"id": "file-1"}}],
        "later": {"nested": True},
    }
    fast, general = both_ways(Take, "getTake", {"data": {"getTake": take}})
    assert fast is not None
    assert fast == general
    assert fast.model_extra == {"later": {"nested": True}}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"data": {"getJob": null}}',
        b'{"data": null, "errors": [{"message": "not found", "errorType": "MoveNotFoundError"}]}',
        b'{"data": {"getJob": {"id": "job-1"}}, "errors": [{"message": "partly"}]}',
        b'{"data": {"getJob": {"state": "FINISHED"}}}',
        b'{"data": {"getJob": "job-1"}}',
        b'{"data": {"otherRoot": {"id": "job-1"}}}',
        b'{"errors": []}',
        b"<html>gateway</html>",
        b"",
        b'{"data": {"getJob": {"id": "job-1", "created": "yesterday"}}}',
    ],
)
def test_what_is_not_a_clean_answer_is_left_to_the_general_path(raw: bytes) -> None:
    assert decoder(Job, "getJob")(raw) is None


def test_the_general_path_still_explains_a_shape_the_sdk_cannot_read() -> None:
    raw = b'{"data": {"getJob": {"id": "job-1", "created": "yesterday"}}}'
    assert decoder(Job, "getJob")(raw) is None
    with pytest.raises(UnexpectedResponseError, match="cannot read"):
        parse(Job, json.loads(raw)["data"]["getJob"], "GetJob")
