"""The emulator's GraphQL endpoint over raw HTTP: every root field, its errors, its life cycles."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from graphql import build_client_schema, get_introspection_query

from aio_move_ugc.emulator import Emulator, RouteFaults
from aio_move_ugc.emulator._api import output_content
from tests.support import MakeEmulator

from .support import GraphQLClient, dumps, storage_key

REFERENCE = Path("/work/shared/reference/move-ugc-introspection.json")

SINGLECAM_DEFAULTS = {
    "RENDER_VIDEO",
    "MAIN_FBX",
    "MAIN_USDC",
    "MAIN_USDZ",
    "MAIN_BLEND",
    "MOTION_DATA",
    "RENDER_OVERLAY_VIDEO",
}
MULTICAM_DEFAULTS = SINGLECAM_DEFAULTS - {"RENDER_OVERLAY_VIDEO"}
LENS = "goprohero10-2-7k"

CREATE_VOLUME = """
mutation($sources: [SourceInput!], $height: Float!, $area: AreaType!, $name: String) {
  createVolumeWithHuman(sources: $sources, humanHeight: $height, areaType: $area, name: $name) {
    id state progress { state percentageComplete } humanHeight areaType name
  }
}
"""
GET_VOLUME = """
query($id: ID!) {
  getVolume(id: $id) {
    __typename
    ... on HumanVolume {
      id state progress { state percentageComplete } areaType humanHeight
      sources { deviceLabel format cameraSettings { lens } file { id } }
      client { id }
    }
  }
}
"""
CREATE_MULTICAM_TAKE = """
mutation($volumeId: String!, $sources: [SourceInput!], $sync: SyncMethodInput) {
  createMultiCamTake(volumeId: $volumeId, sources: $sources, syncMethod: $sync) {
    id takeType
    syncMethod { clapWindow { startTime endTime } }
    volume { ... on HumanVolume { id state } }
    sources { deviceLabel cameraSettings { lens } }
  }
}
"""
CREATE_MULTICAM_JOB = """
mutation($takeId: String!, $rig: String, $actors: Int, $outputs: [OutputType]) {
  createMultiCamJob(takeId: $takeId, rig: $rig, numberOfActors: $actors, outputs: $outputs) {
    id state rig { name } inputs { numberOfActors }
  }
}
"""
UUID_RE = "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def multicam_sources(file_ids: list[str], lens: str | None = LENS) -> list[dict[str, Any]]:
    sources = []
    for index, file_id in enumerate(file_ids):
        source: dict[str, Any] = {"deviceLabel": f"cam-{index}", "fileId": file_id, "format": "MP4"}
        if lens is not None:
            source["cameraSettings"] = {"lens": lens}
        sources.append(source)
    return sources


async def create_volume(gql: GraphQLClient, n: int = 2) -> tuple[str, list[str]]:
    files = [await gql.upload(content=f"camera {i}".encode()) for i in range(n)]
    data = await gql.data(
        CREATE_VOLUME, {"sources": multicam_sources(files), "height": 1.8, "area": "NORMAL"}
    )
    volume_id: str = data["createVolumeWithHuman"]["id"]
    return volume_id, files


async def wait_volume(gql: GraphQLClient, volume_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        volume: dict[str, Any] = (await gql.data(GET_VOLUME, {"id": volume_id}))["getVolume"]
        if volume["state"] == "FINISHED":
            return volume
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)


# --------------------------------------------------------------------------- HTTP and auth
async def test_missing_authorization_is_401(gql: GraphQLClient) -> None:
    async with gql.session.post(gql.emu.endpoint_url, json={"query": "{ client { id } }"}) as resp:
        assert resp.status == 401
        body = await resp.json()
    assert body == {
        "errors": [
            {
                "errorType": "UnauthorizedException",
                "message": "You are not authorized to make this call.",
            }
        ]
    }


@pytest.mark.parametrize("key", ["wrong-key-0123456789", "Bearer emulator-api-key-0123456789", ""])
async def test_wrong_authorization_is_401(gql: GraphQLClient, key: str) -> None:
    status, body = await gql.post("{ client { id } }", api_key=key)
    assert status == 401
    assert body["errors"][0]["errorType"] == "UnauthorizedException"
    assert "data" not in body


async def test_malformed_json_is_400(gql: GraphQLClient) -> None:
    headers = {"Authorization": gql.emu.api_key, "Content-Type": "application/json"}
    for raw in (
        b"{not json",
        b"[1, 2]",
        b'{"query": 5}',
        b'{"query": "{ client { id } }", "variables": []}',
    ):
        async with gql.session.post(gql.emu.endpoint_url, data=raw, headers=headers) as resp:
            assert resp.status == 400, raw
            body = await resp.json()
            assert body["errors"][0]["errorType"] == "MalformedHttpRequestException"


async def test_get_is_400(gql: GraphQLClient) -> None:
    async with gql.session.get(
        gql.emu.endpoint_url,
        params={"query": "{ client { id } }"},
        headers={"Authorization": gql.emu.api_key},
    ) as resp:
        assert resp.status == 400
        body = await resp.json()
    assert body["errors"][0]["errorType"] == "BadRequestException"


async def test_responses_carry_a_request_id(gql: GraphQLClient) -> None:
    async with gql.session.post(
        gql.emu.endpoint_url,
        json={"query": "{ client { id } }"},
        headers={"Authorization": gql.emu.api_key},
    ) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        uuid.UUID(resp.headers["x-amzn-RequestId"])


# ------------------------------------------------------------------ documents and variables
async def test_syntax_error_is_a_validation_error(gql: GraphQLClient) -> None:
    status, body = await gql.post("{ client { id ")
    assert status == 200
    assert body["data"] is None
    [error] = body["errors"]
    assert error["message"].startswith("Validation error")
    assert "errorType" not in error
    assert error["locations"][0]["line"] == 1


async def test_unknown_field_is_a_validation_error(gql: GraphQLClient) -> None:
    status, body = await gql.post("{ client { id apiKey } getJob { id } }")
    assert status == 200
    assert body["data"] is None
    messages = " | ".join(e["message"] for e in body["errors"])
    assert "apiKey" in messages
    assert "jobId" in messages  # getJob's required argument is missing
    assert all(m["message"].startswith("Validation error") for m in body["errors"])


@pytest.mark.parametrize(
    ("variables", "needle"),
    [
        ({}, "$id"),  # required variable not given
        ({"id": None}, "$id"),  # null for a non-null variable
        ({"id": ["job-1"]}, "$id"),  # a list for an ID
    ],
)
async def test_invalid_variables_are_validation_errors(
    gql: GraphQLClient, variables: dict[str, Any], needle: str
) -> None:
    status, body = await gql.post("query($id: ID!) { getJob(jobId: $id) { id } }", variables)
    assert status == 200
    assert body["data"] is None
    [error] = body["errors"]
    assert needle in error["message"]
    assert error["message"].startswith("Validation error")
    assert "errorType" not in error  # the caller's mistake, not an internal failure


async def test_bad_enum_variable_is_rejected(gql: GraphQLClient) -> None:
    status, body = await gql.post(
        "query($d: SortDirection) { listTakes(sortDirection: $d) { first } }", {"d": "SIDEWAYS"}
    )
    assert status == 200
    assert body["data"] is None
    assert "SIDEWAYS" in body["errors"][0]["message"]


async def test_operation_name_selects_the_operation(gql: GraphQLClient) -> None:
    document = "query A { client { id } } query B { listRigs { items { name } } }"
    status, body = await gql.post(document, operation_name="B")
    assert status == 200
    assert set(body["data"]) == {"listRigs"}
    status, body = await gql.post(document)
    assert status == 200
    assert body["data"] is None  # two operations and no name: nothing can run
    assert body["errors"]


# -------------------------------------------------------------------------- introspection
async def test_introspection_builds_the_real_schema(gql: GraphQLClient) -> None:
    data = await gql.data(get_introspection_query(descriptions=True))
    served = build_client_schema(data)  # type: ignore[arg-type]
    text = await asyncio.to_thread(REFERENCE.read_text)
    reference = build_client_schema(json.loads(text)["data"])
    assert served.query_type is not None
    assert reference.query_type is not None
    assert served.mutation_type is not None
    assert reference.mutation_type is not None
    assert set(served.query_type.fields) == set(reference.query_type.fields)
    assert set(served.mutation_type.fields) == set(reference.mutation_type.fields)
    assert {n for n in served.type_map if not n.startswith("__")} == {
        n for n in reference.type_map if not n.startswith("__")
    }
    for name, field in reference.mutation_type.fields.items():
        assert set(served.mutation_type.fields[name].args) == set(field.args), name


async def test_typename_and_type_introspection(gql: GraphQLClient) -> None:
    data = await gql.data('{ __typename __type(name: "JobProgress") { fields { name } } }')
    assert data["__typename"] == "Query"
    assert {f["name"] for f in data["__type"]["fields"]} == {"state", "percentageComplete"}


# -------------------------------------------------------------------------------- not found
NOT_FOUND_CASES = [
    ("getJob", "query($id: ID!) { getJob(jobId: $id) { id } }", "job-"),
    ("getFile", "query($id: ID!) { getFile(fileId: $id) { id } }", "file-"),
    ("getTake", "query($id: ID!) { getTake(takeId: $id) { id } }", "take-"),
    ("getVolume", "query($id: ID!) { getVolume(id: $id) { __typename } }", "volume-"),
    ("updateJob", 'mutation($id: String!) { updateJob(id: $id, name: "x") { id } }', "job-"),
    ("updateFile", 'mutation($id: String!) { updateFile(id: $id, name: "x") { id } }', "file-"),
    ("updateTake", 'mutation($id: String!) { updateTake(id: $id, name: "x") { id } }', "take-"),
    (
        "generateShareCode",
        "mutation($id: String!) { generateShareCode(fileId: $id) { code } }",
        "file-",
    ),
    (
        "createSingleCamJob",
        "mutation($id: String!) { createSingleCamJob(takeId: $id) { id } }",
        "take-",
    ),
    (
        "createMultiCamJob",
        "mutation($id: String!) { createMultiCamJob(takeId: $id) { id } }",
        "take-",
    ),
    (
        "createMultiCamTake",
        "mutation($id: String!) { createMultiCamTake(volumeId: $id) { id } }",
        "volume-",
    ),
]


@pytest.mark.parametrize(
    ("field", "query", "prefix"), NOT_FOUND_CASES, ids=[c[0] for c in NOT_FOUND_CASES]
)
async def test_unknown_id_is_move_not_found(
    gql: GraphQLClient, field: str, query: str, prefix: str
) -> None:
    status, body = await gql.post(query, {"id": f"{prefix}{uuid.uuid4()}"})
    assert status == 200
    assert body["data"] is None
    [error] = body["errors"]
    assert error["errorType"] == "MoveNotFoundError"
    assert error["message"] == "Resource not found in move-ugc-api."
    assert error["path"] == [field]
    assert error["locations"]
    assert {"line", "column"} <= set(error["locations"][0])
    assert "errorInfo" in error


async def test_not_found_in_one_alias_nulls_the_whole_data(gql: GraphQLClient) -> None:
    file_id = await gql.upload()
    status, body = await gql.post(
        "query($a: ID!, $b: ID!) { a: getFile(fileId: $a) { id } b: getFile(fileId: $b) { id } }",
        {"a": file_id, "b": "file-missing"},
    )
    assert status == 200
    # getFile is non-null in the schema, so the null bubbles up to `data`.
    assert body["data"] is None
    assert body["errors"][0]["path"] == ["b"]


# ------------------------------------------------------------------------------------ ids
async def test_ids_have_the_real_shapes(gql: GraphQLClient) -> None:
    job = await gql.singlecam_job()
    volume_id, files = await create_volume(gql)
    client = (await gql.data("{ client { id } }"))["client"]
    take = (
        await gql.data("query($id: ID!) { getJob(jobId: $id) { take { id } } }", {"id": job["id"]})
    )["getJob"]["take"]
    for prefix, value in [
        ("job", job["id"]),
        ("volume", volume_id),
        ("file", files[0]),
        ("client", client["id"]),
        ("take", take["id"]),
    ]:
        assert re.fullmatch(f"{prefix}-{UUID_RE}", value), value


# ----------------------------------------------------------------------------- client
async def test_client_and_update_client(gql: GraphQLClient) -> None:
    client = (await gql.data("{ client { id name created metadata portal } }"))["client"]
    assert client["name"] == "Emulator client"
    assert client["created"].endswith("Z")
    datetime.fromisoformat(client["created"])
    assert client["portal"].startswith("http")
    metadata = dumps({"team": "mocap", "n": [1, 2]})
    updated = (
        await gql.data(
            "mutation($m: AWSJSON!) { updateClient(metadata: $m) { id metadata } }", {"m": metadata}
        )
    )["updateClient"]
    assert updated == {"id": client["id"], "metadata": metadata}
    again = (await gql.data("{ client { metadata } }"))["client"]
    assert json.loads(again["metadata"]) == {"team": "mocap", "n": [1, 2]}


async def test_rigs_and_camera_settings(gql: GraphQLClient) -> None:
    data = await gql.data(
        "{ listRigs { first after items { name } }"
        " listCameraSettings { first after items { lens } } }"
    )
    rigs = [r["name"] for r in data["listRigs"]["items"]]
    lenses = [c["lens"] for c in data["listCameraSettings"]["items"]]
    assert "move_mo" in rigs
    assert LENS in lenses
    assert data["listRigs"]["after"] is None
    assert data["listCameraSettings"]["after"] is None
    assert data["listRigs"]["first"] == len(rigs)


# ------------------------------------------------------------------------------- AWSJSON
async def test_awsjson_round_trips_as_a_string(gql: GraphQLClient) -> None:
    metadata = dumps({"user": 42, "tags": ["a", "b"], "nested": {"x": None}})
    file = await gql.create_file(metadata=metadata, name="clip.mp4")
    assert file["metadata"] == metadata
    assert isinstance(file["metadata"], str)
    got = (
        await gql.data(
            "query($id: ID!) { getFile(fileId: $id) { metadata name } }", {"id": file["id"]}
        )
    )["getFile"]
    assert got == {"metadata": metadata, "name": "clip.mp4"}
    for scalar in ("1", "true", '"a string"', "[1,2,3]", "null"):
        file = await gql.create_file(metadata=scalar)
        assert file["metadata"] == scalar


@pytest.mark.parametrize("metadata", ["not json", "{a: 1}", "{'a': 1}", {"a": 1}, 5])
async def test_awsjson_variable_must_be_a_json_string(gql: GraphQLClient, metadata: Any) -> None:
    status, body = await gql.post(
        'mutation($m: AWSJSON) { createFile(type: "mp4", metadata: $m) { id } }', {"m": metadata}
    )
    assert status == 200
    assert body["data"] is None
    [error] = body["errors"]
    assert "$m" in error["message"]
    assert "AWSJSON" in error["message"]
    assert "errorType" not in error


async def test_awsjson_literal_must_be_json(gql: GraphQLClient) -> None:
    status, body = await gql.post('mutation { createFile(type: "mp4", metadata: "nope{") { id } }')
    assert status == 200
    assert body["data"] is None
    assert body["errors"][0]["message"].startswith("Validation error")
    data = await gql.data(
        'mutation { createFile(type: "mp4", metadata: "{\\"k\\": 1}") { metadata } }'
    )
    assert json.loads(data["createFile"]["metadata"]) == {"k": 1}


# ---------------------------------------------------------------------------------- files
async def test_create_file_gives_a_put_url_and_get_file_a_get_url(gql: GraphQLClient) -> None:
    file = await gql.create_file("MP4")
    assert file["type"] == "mp4"
    put_url = file["presignedUrl"]
    for name in ("AWSAccessKeyId=", "Signature=", "x-amz-security-token=", "Expires="):
        assert name in put_url
    assert storage_key(put_url).endswith(".mp4")
    async with gql.session.put(put_url, data=b"abc", skip_auto_headers={"Content-Type"}) as resp:
        assert resp.status == 200
    get_url = (
        await gql.data(
            "query($id: ID!) { getFile(fileId: $id) { presignedUrl } }", {"id": file["id"]}
        )
    )["getFile"]["presignedUrl"]
    assert storage_key(get_url) == storage_key(put_url)
    assert get_url != put_url  # signed for another verb
    assert await gql.get_bytes(get_url) == b"abc"
    # The upload URL is bound to PUT: using it for GET is refused.
    async with gql.session.get(put_url) as resp:
        assert resp.status == 403
        assert "SignatureDoesNotMatch" in await resp.text()


async def test_unsupported_file_type_is_refused(gql: GraphQLClient) -> None:
    error = await gql.error('mutation { createFile(type: "exe") { id } }')
    assert error["errorType"] == "BadRequestException"
    assert "exe" in error["message"]
    assert error["path"] == ["createFile"]


async def test_update_file_take_job(gql: GraphQLClient) -> None:
    job = await gql.singlecam_job(name="first", metadata=dumps({"v": 1}))
    take_id = (
        await gql.data("query($id: ID!) { getJob(jobId: $id) { take { id } } }", {"id": job["id"]})
    )["getJob"]["take"]["id"]
    file_id = (
        await gql.data(
            "query($id: ID!) { getTake(takeId: $id) { videoFile { id } } }", {"id": take_id}
        )
    )["getTake"]["videoFile"]["id"]
    for field, obj_id, getter in [
        ("updateJob", job["id"], "getJob(jobId: $id)"),
        ("updateTake", take_id, "getTake(takeId: $id)"),
        ("updateFile", file_id, "getFile(fileId: $id)"),
    ]:
        metadata = dumps({"field": field})
        updated = (
            await gql.data(
                f"mutation($id: String!, $m: AWSJSON) {{ {field}(id: $id, metadata: $m,"
                ' name: "renamed") { id name metadata } }',
                {"id": obj_id, "m": metadata},
            )
        )[field]
        assert updated == {"id": obj_id, "name": "renamed", "metadata": metadata}
        # Only what is given changes: a later name-only update keeps the metadata.
        await gql.data(
            f'mutation($id: String!) {{ {field}(id: $id, name: "again") {{ id }} }}', {"id": obj_id}
        )
        got = await gql.data(f"query($id: ID!) {{ {getter} {{ name metadata }} }}", {"id": obj_id})
        assert next(iter(got.values())) == {"name": "again", "metadata": metadata}


# ------------------------------------------------------------------------ business rules
async def test_job_on_a_take_whose_video_was_never_uploaded(gql: GraphQLClient) -> None:
    file = await gql.create_file()
    take_id = await gql.singlecam_take(file["id"])
    error = await gql.error(
        "mutation($t: String!) { createSingleCamJob(takeId: $t) { id } }", {"t": take_id}
    )
    assert error["errorType"] == "BadRequestException"
    assert file["id"] in error["message"]
    assert "not been uploaded" in error["message"]
    assert error["path"] == ["createSingleCamJob"]
    listed = await gql.data("{ listJobs { items { id } } }")
    assert listed["listJobs"]["items"] == []


@pytest.mark.parametrize(
    ("formats", "needle"),
    [
        (["MP4", "MOV"], "exactly one video source"),
        (["MOVE"], "exactly one video source"),
        (["MP4", "MOVE", "MOVE"], "at most one MOVE"),
    ],
)
async def test_singlecam_take_source_rules(
    gql: GraphQLClient, formats: list[str], needle: str
) -> None:
    file_id = await gql.upload()
    sources = [{"deviceLabel": "iphone", "fileId": file_id, "format": f} for f in formats]
    error = await gql.error(
        "mutation($s: [SourceInput!]) { createSingleCamTake(sources: $s) { id } }", {"s": sources}
    )
    assert error["errorType"] == "BadRequestException"
    assert needle in error["message"]


async def test_singlecam_take_with_move_source(gql: GraphQLClient) -> None:
    video = await gql.upload()
    move = await gql.upload("move", b"move data")
    wrong_label = [
        {"deviceLabel": "iphone", "fileId": video, "format": "MP4"},
        {"deviceLabel": "ipad", "fileId": move, "format": "MOVE"},
    ]
    error = await gql.error(
        "mutation($s: [SourceInput!]) { createSingleCamTake(sources: $s) { id } }",
        {"s": wrong_label},
    )
    assert "deviceLabel" in error["message"]
    wrong_label[1]["deviceLabel"] = "iphone"
    take = (
        await gql.data(
            "mutation($s: [SourceInput!]) { createSingleCamTake(sources: $s) {"
            " takeType videoFile { id } additionalFiles { format file { id } } } }",
            {"s": wrong_label},
        )
    )["createSingleCamTake"]
    assert take["takeType"] == "SINGLE_CAM"
    assert take["videoFile"]["id"] == video
    assert take["additionalFiles"] == [{"format": "MOVE", "file": {"id": move}}]


async def test_take_with_unknown_file_or_no_sources(gql: GraphQLClient) -> None:
    error = await gql.error(
        "mutation($s: [SourceInput!]) { createSingleCamTake(sources: $s) { id } }",
        {"s": [{"deviceLabel": "d", "fileId": "file-nope", "format": "MP4"}]},
    )
    assert "file-nope" in error["message"]
    error = await gql.error("mutation { createSingleCamTake(sources: []) { id } }")
    assert error["errorType"] == "BadRequestException"


async def test_volume_rules(gql: GraphQLClient) -> None:
    a, b = await gql.upload(), await gql.upload()
    cases: list[tuple[list[dict[str, Any]], float, str]] = [
        (multicam_sources([a, b], lens="fisheye-9000"), 1.8, "Unknown lens"),
        (multicam_sources([a, b], lens=None), 1.8, "cameraSettings.lens"),
        (multicam_sources([a]), 1.8, "at least two cameras"),
        (multicam_sources([a, b]), 180.0, "humanHeight"),
    ]
    for sources, height, needle in cases:
        error = await gql.error(
            CREATE_VOLUME, {"sources": sources, "height": height, "area": "LARGE"}
        )
        assert error["errorType"] == "BadRequestException"
        assert needle in error["message"], error
    not_uploaded = (await gql.create_file())["id"]
    error = await gql.error(
        CREATE_VOLUME,
        {"sources": multicam_sources([a, not_uploaded]), "height": 1.7, "area": "NORMAL"},
    )
    assert "not been uploaded" in error["message"]


async def test_multicam_take_on_an_unfinished_volume(gql: GraphQLClient) -> None:
    volume_id, files = await create_volume(gql)
    error = await gql.error(
        CREATE_MULTICAM_TAKE, {"volumeId": volume_id, "sources": multicam_sources(files)}
    )
    assert error["errorType"] == "BadRequestException"
    assert "not FINISHED" in error["message"]
    assert error["path"] == ["createMultiCamTake"]


async def test_multicam_rules(gql: GraphQLClient) -> None:
    volume_id, files = await create_volume(gql)
    await wait_volume(gql, volume_id)
    error = await gql.error(
        CREATE_MULTICAM_TAKE, {"volumeId": volume_id, "sources": multicam_sources(files[:1])}
    )
    assert "at least two cameras" in error["message"]
    error = await gql.error(
        CREATE_MULTICAM_TAKE, {"volumeId": volume_id, "sources": multicam_sources(files, lens="x")}
    )
    assert "Unknown lens" in error["message"]
    take = (
        await gql.data(
            CREATE_MULTICAM_TAKE, {"volumeId": volume_id, "sources": multicam_sources(files)}
        )
    )["createMultiCamTake"]
    error = await gql.error(CREATE_MULTICAM_JOB, {"takeId": take["id"], "rig": "move_banana"})
    assert error["errorType"] == "BadRequestException"
    assert "Unknown rig" in error["message"]
    error = await gql.error(CREATE_MULTICAM_JOB, {"takeId": take["id"], "actors": 0})
    assert "numberOfActors" in error["message"]
    error = await gql.error(
        "mutation($t: String!) { createSingleCamJob(takeId: $t) { id } }", {"t": take["id"]}
    )
    assert "createMultiCamJob" in error["message"]
    single = await gql.singlecam_take()
    error = await gql.error(CREATE_MULTICAM_JOB, {"takeId": single})
    assert "createSingleCamJob" in error["message"]


async def test_clip_window_must_be_ordered(gql: GraphQLClient) -> None:
    take_id = await gql.singlecam_take()
    error = await gql.error(
        "mutation($t: String!) { createSingleCamJob(takeId: $t,"
        " clipWindow: {startTime: 5, endTime: 2}) { id } }",
        {"t": take_id},
    )
    assert "clipWindow" in error["message"]
    job = (
        await gql.data(
            "mutation($t: String!) { createSingleCamJob(takeId: $t,"
            " clipWindow: {startTime: 1.5, endTime: 4},"
            " options: {trackFingers: true, mocapModel: S2}) {"
            " inputs { clipWindow { startTime endTime } options { trackFingers mocapModel } } } }",
            {"t": take_id},
        )
    )["createSingleCamJob"]
    assert job["inputs"] == {
        "clipWindow": {"startTime": 1.5, "endTime": 4.0},
        "options": {"trackFingers": True, "mocapModel": "S2"},
    }


# ---------------------------------------------------------------------------- job life cycle
async def test_job_life_cycle(make_emulator: MakeEmulator, session: aiohttp.ClientSession) -> None:
    # Long phases stepped through on the emulator's clock: a busy machine's real seconds are
    # a rounding error beside them.
    async with make_emulator(job_queue_delay=30, job_duration=120, output_lag=60) as emu:
        gql = GraphQLClient(session, emu)
        job = await gql.singlecam_job(outputs=["MAIN_FBX", "RENDER_VIDEO"])
        assert job["state"] == "NOT_STARTED"
        assert job["progress"] == {"state": "NOT_STARTED", "percentageComplete": 0}
        seen: list[tuple[str, int, Any]] = []
        while True:
            view = await gql.job(job["id"])
            assert view["state"] == view["progress"]["state"]  # both filled, always equal
            seen.append((view["state"], view["progress"]["percentageComplete"], view["outputs"]))
            if view["state"] == "FINISHED":
                break
            emu.advance(2.0)
        states = [s for s, _, _ in seen]
        assert states[0] == "NOT_STARTED"
        assert "RUNNING" in states
        assert states == sorted(states, key=["NOT_STARTED", "RUNNING", "FINISHED"].index)
        running = [p for s, p, _ in seen if s == "RUNNING"]
        assert running == sorted(running)
        assert len(set(running)) > 2
        assert all(0 <= p < 100 for p in running)
        assert all(outputs == [] for s, _, outputs in seen if s != "FINISHED")
        assert seen[-1][1] == 100
        # Within the readiness lag the outputs are listed but not downloadable yet.
        finished = seen[-1][2]
        assert {o["format"] for o in finished} == {"MAIN_FBX", "RENDER_VIDEO"}
        assert all(o["file"]["presignedUrl"] is None for o in finished)
        emu.advance(60)
        ready = await gql.wait_outputs(job["id"])
        assert [o["file"]["id"] for o in ready["outputs"]] == [o["file"]["id"] for o in finished]
        types = {o["format"]: o["file"]["type"] for o in ready["outputs"]}
        assert types == {"MAIN_FBX": "fbx", "RENDER_VIDEO": "mp4"}
        for output in ready["outputs"]:
            url = output["file"]["presignedUrl"]
            body = await gql.get_bytes(url)
            assert body == emu.storage.read_bytes(storage_key(url))
            expected = b"".join(output_content(job["id"], output["format"], emu.config.output_size))
            assert body == expected
            assert len(body) == emu.config.output_size
            # An output is a File like any other.
            file = (
                await gql.data(
                    "query($id: ID!) { getFile(fileId: $id) { id type presignedUrl } }",
                    {"id": output["file"]["id"]},
                )
            )["getFile"]
            assert file["type"] == output["file"]["type"]
            assert storage_key(file["presignedUrl"]) == storage_key(url)


async def test_advance_moves_a_job_without_waiting(
    make_emulator: MakeEmulator, session: aiohttp.ClientSession
) -> None:
    async with make_emulator(job_queue_delay=60, job_duration=600, output_lag=60) as emu:
        gql = GraphQLClient(session, emu)
        job = await gql.singlecam_job()
        assert (await gql.job(job["id"]))["state"] == "NOT_STARTED"
        emu.advance(61)
        assert (await gql.job(job["id"]))["state"] == "RUNNING"
        emu.advance(300)
        view = await gql.job(job["id"])
        assert view["progress"] == {"state": "RUNNING", "percentageComplete": 50}
        emu.advance(300)
        view = await gql.job(job["id"])
        assert view["progress"] == {"state": "FINISHED", "percentageComplete": 100}
        assert len(view["outputs"]) == 7
        assert all(o["file"]["presignedUrl"] is None for o in view["outputs"])
        emu.advance(61)
        view = await gql.job(job["id"])
        assert all(o["file"]["presignedUrl"] for o in view["outputs"])


@pytest.mark.parametrize("outputs", [[], None, "omitted", [None]])
async def test_default_outputs_singlecam(
    make_emulator: MakeEmulator, session: aiohttp.ClientSession, outputs: Any
) -> None:
    async with make_emulator(job_queue_delay=0, job_duration=0, output_lag=0) as emu:
        gql = GraphQLClient(session, emu)
        extra = {} if outputs == "omitted" else {"outputs": outputs}
        job = await gql.singlecam_job(**extra)
        view = await gql.wait_outputs(job["id"])
        formats = [o["format"] for o in view["outputs"]]
        assert len(formats) == 7
        assert set(formats) == SINGLECAM_DEFAULTS


async def test_requested_outputs_are_deduplicated(
    make_emulator: MakeEmulator, session: aiohttp.ClientSession
) -> None:
    async with make_emulator(job_queue_delay=0, job_duration=0, output_lag=0) as emu:
        gql = GraphQLClient(session, emu)
        job = await gql.singlecam_job(outputs=["MAIN_GLB", "ALL_BVH", "MAIN_GLB"])
        view = await gql.wait_outputs(job["id"])
        assert [(o["format"], o["file"]["type"]) for o in view["outputs"]] == [
            ("MAIN_GLB", "glb"),
            ("ALL_BVH", "zip"),
        ]


async def test_failed_job(make_emulator: MakeEmulator, session: aiohttp.ClientSession) -> None:
    async with make_emulator(failure_rate=1.0) as emu:
        gql = GraphQLClient(session, emu)
        job = await gql.singlecam_job()
        final = await gql.wait_job(job["id"])
        assert final["state"] == "FAILED"
        assert final["progress"]["state"] == "FAILED"
        assert final["outputs"] == []


# ------------------------------------------------------------------------------- multicam
async def test_volume_then_multicam_job(gql: GraphQLClient) -> None:
    volume_id, files = await create_volume(gql, 3)
    created = await gql.data(GET_VOLUME, {"id": volume_id})
    assert created["getVolume"]["state"] in ("NOT_STARTED", "RUNNING")
    volume = await wait_volume(gql, volume_id)
    assert volume["__typename"] == "HumanVolume"
    assert volume["progress"] == {"state": "FINISHED", "percentageComplete": 100}
    assert volume["areaType"] == "NORMAL"
    assert volume["humanHeight"] == 1.8
    assert [s["file"]["id"] for s in volume["sources"]] == files
    assert {s["cameraSettings"]["lens"] for s in volume["sources"]} == {LENS}
    take = (
        await gql.data(
            CREATE_MULTICAM_TAKE,
            {
                "volumeId": volume_id,
                "sources": multicam_sources(files),
                "sync": {"clapWindow": {"startTime": 0.5, "endTime": 1.5}},
            },
        )
    )["createMultiCamTake"]
    assert take["takeType"] == "MULTI_CAM"
    assert take["volume"] == {"id": volume_id, "state": "FINISHED"}
    assert take["syncMethod"] == {"clapWindow": {"startTime": 0.5, "endTime": 1.5}}
    job = (await gql.data(CREATE_MULTICAM_JOB, {"takeId": take["id"], "actors": 2}))[
        "createMultiCamJob"
    ]
    assert job["rig"] == {"name": "move_mo"}  # the default rig
    assert job["inputs"] == {"numberOfActors": 2}
    await gql.wait_job(job["id"])
    view = await gql.wait_outputs(job["id"])
    formats = [o["format"] for o in view["outputs"]]
    assert len(formats) == 6
    assert set(formats) == MULTICAM_DEFAULTS
    job = (
        await gql.data(
            CREATE_MULTICAM_JOB, {"takeId": take["id"], "rig": "move_ue5", "outputs": []}
        )
    )["createMultiCamJob"]
    assert job["rig"] == {"name": "move_ue5"}
    view = await gql.wait_outputs(job["id"])
    assert {o["format"] for o in view["outputs"]} == MULTICAM_DEFAULTS
    assert len(view["outputs"]) == 6


# ----------------------------------------------------------------------------- pagination
async def walk(
    gql: GraphQLClient, field: str, first: int, direction: str | None, extra: str = ""
) -> list[list[str]]:
    """Every page of a list query, as lists of ids."""
    item = "... on HumanVolume { id }" if field == "listVolumes" else "id"
    declared = ", $takeId: String" if extra else ""
    query = (
        f"query($first: Int, $after: AWSJSON, $d: SortDirection{declared}) {{"
        f" {field}(first: $first, after: $after, sortDirection: $d{extra})"
        f" {{ first after items {{ {item} }} }} }}"
    )
    pages: list[list[str]] = []
    after: str | None = None
    variables: dict[str, Any] = {"first": first, "d": direction}
    while True:
        page = (await gql.data(query, {**variables, "after": after}))[field]
        assert page["first"] == first
        pages.append([i["id"] for i in page["items"]])
        after = page["after"]
        if after is None:
            return pages
        assert isinstance(after, str)
        json.loads(after)  # an AWSJSON cursor
        assert len(pages) < 50


def flat(pages: list[list[str]]) -> list[str]:
    return [item for page in pages for item in page]


async def test_list_takes_pagination(gql: GraphQLClient) -> None:
    file_id = await gql.upload()
    created = [await gql.singlecam_take(file_id) for _ in range(7)]
    desc = await walk(gql, "listTakes", 3, None)
    assert [len(p) for p in desc] == [3, 3, 1]
    assert flat(desc) == created[::-1]  # newest first by default
    assert flat(await walk(gql, "listTakes", 3, "DESC")) == created[::-1]
    asc = await walk(gql, "listTakes", 3, "ASC")
    assert flat(asc) == created
    exact = await walk(gql, "listTakes", 7, "ASC")
    assert exact == [created]  # a full last page still ends with after: null
    default = (await gql.data("{ listTakes { first after items { id } } }"))["listTakes"]
    assert default["first"] == 50
    assert default["after"] is None
    assert len(default["items"]) == 7


async def test_list_jobs_pagination_and_take_filter(gql: GraphQLClient) -> None:
    take_a, take_b = await gql.singlecam_take(), await gql.singlecam_take()
    jobs = []
    for take in (take_a, take_b, take_a, take_a, take_b):
        jobs.append(((await gql.singlecam_job(take))["id"], take))
    everything = await walk(gql, "listJobs", 2, "ASC")
    assert [len(p) for p in everything] == [2, 2, 1]
    assert flat(everything) == [j for j, _ in jobs]
    only_a = await walk(gql, "listJobs", 2, "DESC", ", takeId: $takeId")
    # With no takeId variable given, the filter is off.
    assert sorted(flat(only_a)) == sorted(j for j, _ in jobs)
    query = (
        "query($t: String, $after: AWSJSON) { listJobs(first: 2, takeId: $t, after: $after,"
        " sortDirection: ASC) { after items { id take { id } } } }"
    )
    got: list[str] = []
    after = None
    while True:
        page = (await gql.data(query, {"t": take_a, "after": after}))["listJobs"]
        assert all(i["take"]["id"] == take_a for i in page["items"])
        got += [i["id"] for i in page["items"]]
        after = page["after"]
        if after is None:
            break
    assert got == [j for j, t in jobs if t == take_a]
    none = (await gql.data('{ listJobs(takeId: "take-other") { after items { id } } }'))["listJobs"]
    assert none == {"after": None, "items": []}


async def test_list_volumes_pagination(gql: GraphQLClient) -> None:
    created = [(await create_volume(gql))[0] for _ in range(3)]
    assert flat(await walk(gql, "listVolumes", 2, None)) == created[::-1]
    assert flat(await walk(gql, "listVolumes", 2, "ASC")) == created
    assert await walk(gql, "listVolumes", 1, "ASC") == [[v] for v in created]


async def test_bad_page_arguments(gql: GraphQLClient) -> None:
    for query in (
        "{ listTakes(first: 0) { first } }",
        "{ listJobs(first: 1000) { first } }",
        '{ listVolumes(after: "{\\"nope\\": 1}") { first } }',
        '{ listTakes(after: "[1]") { first } }',
    ):
        status, body = await gql.post(query)
        assert status == 200
        [error] = body["errors"]
        assert error["errorType"] == "BadRequestException", query


# ------------------------------------------------------------------------- nested relations
async def test_nested_relations(
    make_emulator: MakeEmulator, session: aiohttp.ClientSession
) -> None:
    async with make_emulator(job_queue_delay=0, job_duration=0, output_lag=0) as emu:
        gql = GraphQLClient(session, emu)
        video = await gql.upload(content=b"the video")
        take_id = await gql.singlecam_take(video, name="my take")
        job = await gql.singlecam_job(take_id, outputs=["MAIN_FBX"])
        await gql.wait_outputs(job["id"])
        data = await gql.data(
            "query($id: ID!) { getJob(jobId: $id) {"
            " client { id }"
            " take { id name takeType client { id }"
            "   sources { deviceLabel format file { id type presignedUrl client { id } } }"
            "   videoFile { id } }"
            " outputs { format key file { id type created client { id } } } } client { id } }",
            {"id": job["id"]},
        )
        client_id = data["client"]["id"]
        view = data["getJob"]
        assert view["client"]["id"] == client_id
        take = view["take"]
        assert take["id"] == take_id
        assert take["name"] == "my take"
        assert take["client"]["id"] == client_id
        assert take["videoFile"]["id"] == video
        [source] = take["sources"]
        assert source["deviceLabel"] == "iphone"
        assert source["format"] == "MP4"
        assert source["file"]["id"] == video
        assert source["file"]["client"]["id"] == client_id
        assert await gql.get_bytes(source["file"]["presignedUrl"]) == b"the video"
        [output] = view["outputs"]
        assert output["format"] == output["key"] == "MAIN_FBX"
        assert output["file"]["type"] == "fbx"
        assert output["file"]["client"]["id"] == client_id


# ----------------------------------------------------------------------------- share codes
async def test_share_codes(gql: GraphQLClient) -> None:
    file_id = await gql.upload(content=b"share me")
    share = (
        await gql.data(
            "mutation($f: String!) { generateShareCode(fileId: $f) {"
            " code created expires url file { id } } }",
            {"f": file_id},
        )
    )["generateShareCode"]
    assert share["file"] == {"id": file_id}
    assert share["code"]
    assert share["code"] in share["url"]
    created = datetime.fromisoformat(share["created"])
    expires = datetime.fromisoformat(share["expires"])
    assert expires - created == timedelta(days=7)
    async with gql.session.get(share["url"], allow_redirects=False) as resp:
        assert resp.status == 302
        assert "Signature=" in resp.headers["Location"]
    assert await gql.get_bytes(share["url"]) == b"share me"
    async with gql.session.get(f"{gql.emu.url}/share/NOPE") as resp:
        assert resp.status == 404
    gql.emu.advance(7 * 24 * 3600 + 1)
    async with gql.session.get(share["url"], allow_redirects=False) as resp:
        assert resp.status == 404  # expired
    not_uploaded = (await gql.create_file())["id"]
    error = await gql.error(
        "mutation($f: String!) { generateShareCode(fileId: $f) { code } }", {"f": not_uploaded}
    )
    assert error["errorType"] == "BadRequestException"


# --------------------------------------------------------------------------------- webhooks
UPSERT = """
mutation($uid: String!, $url: String!, $events: [String!], $secret: String, $d: String,
         $m: AWSJSON) {
  upsertWebhookEndpoint(uid: $uid, url: $url, events: $events, secret: $secret,
                        description: $d, metadata: $m) {
    uid url events secret description metadata client { id }
  }
}
"""


async def test_webhook_upsert_shows_the_secret_only_on_creation(gql: GraphQLClient) -> None:
    first = (
        await gql.data(
            UPSERT,
            {
                "uid": "hook-1",
                "url": "https://example.com/a",
                "events": ["ugc.job.state.completed"],
                "d": "A",
            },
        )
    )["upsertWebhookEndpoint"]
    assert first["secret"].startswith("whsec_")
    assert first["events"] == ["ugc.job.state.completed"]
    assert first["description"] == "A"
    assert first["client"]["id"].startswith("client-")
    second = (
        await gql.data(
            UPSERT, {"uid": "hook-1", "url": "https://example.com/b", "m": dumps({"x": 1})}
        )
    )["upsertWebhookEndpoint"]
    assert second["secret"] is None
    assert second["url"] == "https://example.com/b"
    assert second["events"] == ["ugc.job.state.completed"]  # kept when not given
    assert second["description"] == "A"
    assert second["metadata"] == dumps({"x": 1})
    given = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    third = (
        await gql.data(UPSERT, {"uid": "hook-2", "url": "http://localhost/x", "secret": given})
    )["upsertWebhookEndpoint"]
    assert third["secret"] == given


@pytest.mark.parametrize(
    ("url", "secret", "needle"),
    [
        ("ftp://example.com/x", None, "url"),
        ("https://example.com/x", "not-a-whsec", "whsec_"),
        ("https://example.com/x", "whsec_%%%not base64%%%", "base64"),
        ("https://example.com/x", "whsec_c2hvcnQ=", "base64"),
    ],
)
async def test_webhook_upsert_rules(
    gql: GraphQLClient, url: str, secret: str | None, needle: str
) -> None:
    error = await gql.error(UPSERT, {"uid": "h", "url": url, "secret": secret})
    assert error["errorType"] == "BadRequestException"
    assert needle in error["message"]


# ------------------------------------------------------------------------------- budgets
async def test_hourly_request_budget(
    make_emulator: MakeEmulator, session: aiohttp.ClientSession
) -> None:
    async with make_emulator(hourly_request_budget=3) as emu:
        gql = GraphQLClient(session, emu)
        for _ in range(3):
            await gql.data("{ client { id } }")
        status, body = await gql.post("{ client { id } }")
        assert status == 429
        assert body["errors"][0]["errorType"] == "TooManyRequestsException"
        async with session.post(
            emu.endpoint_url,
            json={"query": "{ client { id } }"},
            headers={"Authorization": emu.api_key},
        ) as resp:
            assert resp.status == 429
            assert 1 <= int(resp.headers["Retry-After"]) <= 3600
        assert emu.stats.faults["graphql budget"] == 2
        # A bad key is refused before it can spend anything.
        status, _ = await gql.post("{ client { id } }", api_key="someone-else-000")
        assert status == 401
        emu.advance(3600)
        await gql.data("{ client { id } }")


# ------------------------------------------------------------------------------- counters
async def test_counters_and_stats_route(gql: GraphQLClient) -> None:
    emu = gql.emu
    file_id = await gql.upload(content=b"x" * 1000)
    await gql.post(
        "query Both($id: ID!) { a: getFile(fileId: $id) { presignedUrl }"
        " b: getFile(fileId: $id) { id } }",
        {"id": file_id},
    )
    url = (
        await gql.data("query($id: ID!) { getFile(fileId: $id) { presignedUrl } }", {"id": file_id})
    )["getFile"]["presignedUrl"]
    assert await gql.get_bytes(url) == b"x" * 1000
    await gql.post("{ broken")
    stats = emu.stats
    assert stats.operations["Both"] == 1
    assert stats.operations["<anonymous>"] == 2
    assert stats.operations["<invalid>"] == 1
    assert stats.root_fields["getFile"] == 3  # counted once per alias
    assert stats.root_fields["createFile"] == 1
    assert stats.graphql_requests == 4
    assert stats.storage["PUT 200"] == 1
    assert stats.storage["GET 200"] == 1
    assert stats.storage_count("GET") == 1
    assert stats.bytes_in >= 1000
    assert stats.bytes_out >= 1000
    assert stats.connections >= 1
    async with gql.session.get(f"{emu.url}/_emulator/stats") as resp:
        assert resp.status == 200
        snapshot = await resp.json()
    assert snapshot == stats.snapshot()
    assert snapshot["root_fields"]["getFile"] == 3
    assert snapshot["storage"]["PUT 200"] == 1
    stats.reset()
    assert emu.stats.snapshot()["graphql_requests"] == 0


# --------------------------------------------------------------------------------- faults
@pytest.mark.parametrize(
    ("faults", "status", "error_type"),
    [
        (RouteFaults(rate_429=1.0), 429, "TooManyRequestsException"),
        (RouteFaults(rate_500=1.0), 500, "InternalFailure"),
        (RouteFaults(rate_503=1.0), 503, "ServiceUnavailableException"),
    ],
)
async def test_status_faults(
    gql: GraphQLClient, faults: RouteFaults, status: int, error_type: str
) -> None:
    gql.emu.set_faults("graphql", faults)
    got, body = await gql.post('mutation { createFile(type: "mp4") { id } }')
    assert got == status
    assert body["errors"][0]["errorType"] == error_type
    assert gql.emu.stats.faults[f"graphql {status}"] == 1
    assert gql.emu.stats.root_fields["createFile"] == 0  # refused before it ran
    gql.emu.set_faults("graphql", None)
    await gql.data("{ client { id } }")


async def test_reset_mid_body_after_the_mutation_ran(gql: GraphQLClient) -> None:
    file_id = await gql.upload()
    gql.emu.set_faults("graphql", RouteFaults(reset_rate=1.0))
    with pytest.raises(aiohttp.ClientError) as caught:
        await gql.post(
            'mutation($s: [SourceInput!]) { createSingleCamTake(sources: $s, name: "cut") {'
            " id name created sources { deviceLabel format file { id type } } } }",
            {"s": [{"deviceLabel": "iphone", "fileId": file_id, "format": "MP4"}]},
        )
    assert isinstance(caught.value, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError), (
        repr(caught.value)
    )
    assert gql.emu.stats.faults["graphql reset"] == 1
    gql.emu.set_faults("graphql", None)
    takes = (await gql.data("{ listTakes { items { id name } } }"))["listTakes"]["items"]
    assert [t["name"] for t in takes] == ["cut"]


async def test_latency_fault(gql: GraphQLClient) -> None:
    gql.emu.set_faults("graphql", RouteFaults(latency=0.2))
    started = time.monotonic()
    await gql.data("{ client { id } }")
    assert time.monotonic() - started >= 0.2


def test_fault_rates_are_checked() -> None:
    with pytest.raises(ValueError, match="more than 1"):
        RouteFaults(rate_500=0.6, rate_503=0.6)
    with pytest.raises(ValueError, match="rate_429"):
        RouteFaults(rate_429=1.5)


async def test_unknown_fault_route_is_refused(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="unknown route"):
        emulator.set_faults("websocket", RouteFaults(rate_500=1.0))
