"""`ugc.files`: create, retrieve, update, generate_share_code, with every error path."""

from __future__ import annotations

from typing import Any

import pytest

from aio_move_ugc import AsyncMoveUgc, BadRequestError, File, ShareCode
from aio_move_ugc.emulator import Emulator

from . import _paths as paths
from ._paths import Case
from .support import uploaded_file

MISSING = "file-00000000-0000-4000-8000-000000000000"


def _check_created(emu: Emulator, ctx: Any, file: File) -> None:
    assert file.id.startswith("file-")
    assert file.type == "mp4"
    assert file.name == "clip"
    assert file.metadata == {"scene": 1, "tags": ["a", "b"]}
    assert file.presigned_url is not None
    assert file.presigned_url.startswith(emu.url)
    assert emu.state.files[file.id].metadata == '{"scene":1,"tags":["a","b"]}'


def _check_retrieved(emu: Emulator, ctx: File, file: File) -> None:
    assert file.id == ctx.id
    assert file.client is not None
    assert file.client.id == emu.state.client.id
    assert file.presigned_url is not None
    assert file.presigned_url != ctx.presigned_url


def _check_updated(emu: Emulator, ctx: File, file: File) -> None:
    assert (file.id, file.name, file.metadata) == (ctx.id, "renamed", {"k": [1, 2]})
    assert emu.state.files[ctx.id].name == "renamed"


def _check_share_code(emu: Emulator, ctx: File, share: ShareCode) -> None:
    assert share.code in emu.state.share_codes
    assert share.file is not None
    assert share.file.id == ctx.id
    assert share.url is not None
    assert share.url.endswith(share.code)
    assert share.expires is not None
    assert share.created is not None
    assert share.expires > share.created


CASES = [
    Case(
        "files.create",
        "CreateFile",
        lambda ugc, ctx: ugc.files.create(
            "MP4", name="clip", metadata={"scene": 1, "tags": ["a", "b"]}
        ),
        check=_check_created,
        creates="files",
    ),
    Case(
        "files.retrieve",
        "GetFile",
        lambda ugc, file: ugc.files.retrieve(file.id, expand=["client"]),
        prepare=uploaded_file,
        check=_check_retrieved,
    ),
    Case(
        "files.update",
        "UpdateFile",
        lambda ugc, file: ugc.files.update(file.id, metadata={"k": [1, 2]}, name="renamed"),
        prepare=uploaded_file,
        check=_check_updated,
    ),
    Case(
        "files.generate_share_code",
        "GenerateShareCode",
        lambda ugc, file: ugc.files.generate_share_code(file.id),
        prepare=uploaded_file,
        check=_check_share_code,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_succeeds(case: Case, emu: Emulator, ugc: AsyncMoveUgc) -> None:
    await paths.succeeds(case, emu, ugc)


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_wrong_key_is_refused(
    case: Case, emu: Emulator, ugc: AsyncMoveUgc, wrong_key: AsyncMoveUgc
) -> None:
    await paths.unauthorized(case, emu, ugc, wrong_key)


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_rejected_document_is_a_validation_error(
    case: Case, emu: Emulator, ugc: AsyncMoveUgc
) -> None:
    await paths.rejected_document(case, emu, ugc)


@pytest.mark.parametrize("kind", ["429", "503"])
@pytest.mark.parametrize("case", CASES, ids=str)
async def test_retried_after_refusal(
    case: Case, kind: str, emu: Emulator, ugc: AsyncMoveUgc
) -> None:
    await paths.succeeds_after_fault(case, emu, ugc, kind)


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_connection_cut_after_send(case: Case, emu: Emulator, ugc: AsyncMoveUgc) -> None:
    await paths.connection_cut(case, emu, ugc)


async def test_retrieve_missing(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    await paths.not_found(ugc.files.retrieve(MISSING), emu, "GetFile")


async def test_update_missing(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    error = await paths.not_found(ugc.files.update(MISSING, name="x"), emu, "UpdateFile")
    assert error.errors[0]["path"] == ["updateFile"]


async def test_share_code_of_missing_file(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    await paths.not_found(ugc.files.generate_share_code(MISSING), emu, "GenerateShareCode")


async def test_share_code_of_file_without_content_is_a_bad_request(
    emu: Emulator, ugc: AsyncMoveUgc
) -> None:
    empty = await ugc.files.create("mov")
    with pytest.raises(BadRequestError) as caught:
        await ugc.files.generate_share_code(empty.id)
    assert caught.value.error_type == "BadRequestException"
    assert empty.id in str(caught.value)
    assert emu.stats.operations["GenerateShareCode"] == 1


async def test_create_without_optional_fields(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    file = await ugc.files.create(".mov")
    assert file.type == "mov"
    assert file.name is None
    assert file.metadata == {}  # created with "{}", as the official SDK sends
    assert emu.state.files[file.id].type == "mov"
    assert emu.state.files[file.id].metadata == "{}"


async def test_update_keeps_what_is_not_given(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    file = await ugc.files.create("mp4", name="first", metadata={"a": 1})
    updated = await ugc.files.update(file.id, name="second")
    assert (updated.name, updated.metadata) == ("second", {"a": 1})


async def test_retrieve_without_expand_leaves_client_out(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    file = await uploaded_file(ugc)
    again = await ugc.files.retrieve(file.id)
    assert again.client is None
    assert emu.stats.root_fields["getFile"] == 1
