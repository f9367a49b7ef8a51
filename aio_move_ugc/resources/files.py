"""`ugc.files`: file records (create, retrieve, update, share codes)."""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import anyio

from .. import _validation as check
from .._exceptions import InvalidInputError, OutcomeUnknownError
from ..transfers import Progress, check_upload_source, download_url, upload_file
from ..types._models import File, ShareCode
from ._base import Resource

_SAFE_SUFFIX = re.compile(r"^[a-z0-9]{1,10}$")


class Files(Resource):
    async def create(
        self,
        file_type: str,
        *,
        name: str | None = None,
        metadata: Any = None,
        expand: Iterable[str] | None = None,
    ) -> File:
        """Create a file record; its `presigned_url` is where to PUT the bytes (see `upload`)."""
        variables = {
            "type": check.file_type(file_type),
            "name": check.text(name, "name"),
            "metadata": check.metadata(metadata),
        }
        return await self._run("CreateFile", File, variables, expand)

    async def retrieve(self, id: str, *, expand: Iterable[str] | None = None) -> File:
        """A file by id; its `presigned_url` is a download URL."""
        variables = {"fileId": check.identifier(id, "file")}
        return await self._run("GetFile", File, variables, expand)

    async def update(
        self,
        id: str,
        *,
        metadata: Any = None,
        name: str | None = None,
        expand: Iterable[str] | None = None,
    ) -> File:
        variables = {
            "id": check.identifier(id, "file"),
            "metadata": check.metadata(metadata),
            "name": check.text(name, "name"),
        }
        return await self._run("UpdateFile", File, variables, expand)

    async def generate_share_code(self, file_id: str) -> ShareCode:
        """A code (and URL) that lets others download the file."""
        variables = {"fileId": check.identifier(file_id, "file")}
        return await self._run("GenerateShareCode", ShareCode, variables)

    async def upload(
        self,
        path: str | os.PathLike[str],
        *,
        type: str | None = None,
        name: str | None = None,
        metadata: Any = None,
        progress: Progress | None = None,
        on_record: Callable[[File], Awaitable[object]] | None = None,
    ) -> File:
        """Create a file record and stream `path` to its presigned URL.

        The type comes from the suffix unless given. The bytes are sent with their exact
        length and no Content-Type, and the storage's ETag is checked against the MD5 of
        what was read. Transient failures re-send from the start; an expired URL is
        replaced by a new file record. Returns the record whose URL received the bytes.
        `on_record(file)` is awaited with each record before bytes go to it (to journal it).
        """
        source, size, file_type = check_upload_source(path, type)
        check.metadata(metadata)
        client = self._client
        async with client._transfer_slots():
            record = await self._create_for_upload(file_type, name, metadata)
            if on_record is not None:
                await on_record(record)

            async def refresh() -> str:
                nonlocal record
                record = await self._create_for_upload(file_type, name, metadata)
                if on_record is not None:
                    await on_record(record)
                return _url_of(record)

            await upload_file(
                client._storage_session(),
                source,
                size,
                _url_of(record),
                config=client.transfer_config,
                refresh=refresh,
                progress=progress,
            )
        return record

    async def _create_for_upload(self, file_type: str, name: str | None, metadata: Any) -> File:
        """A fresh file record. Creating one whose outcome was unknown again is safe: a record
        that never receives bytes is never used."""
        for attempt in range(1, 4):
            try:
                return await self.create(file_type, name=name, metadata=metadata)
            except OutcomeUnknownError:
                if attempt == 3:
                    raise
        raise AssertionError("unreachable")

    async def download(
        self,
        file: File | str,
        dest: str | os.PathLike[str],
        *,
        progress: Progress | None = None,
    ) -> Path:
        """Download a file (a `File`, a file id, or a presigned GET URL) to `dest`.

        Large objects come as concurrent ranged parts into `<dest>.part`, resumable after
        an interruption; the result is checked (size, MD5 when the ETag is one), fsynced and
        renamed into place. When `dest` is a directory the name is `<file id>.<type>`.
        """
        target = Path(dest)
        file_id: str | None = None
        url: str | None = None
        record: File | None = None
        if isinstance(file, File):
            record, file_id = file, file.id
        elif isinstance(file, str) and file.startswith(("http://", "https://")):
            url = check.http_url(file, "download URL")
        elif isinstance(file, str):
            file_id = check.identifier(file, "file")
        else:
            raise InvalidInputError("file must be a File, a file id or a presigned URL")
        if await anyio.Path(target).is_dir():
            if record is None and file_id is not None:
                record = await self.retrieve(file_id)
            if record is None or not _SAFE_SUFFIX.match((record.type or "").lower()):
                raise InvalidInputError(f"{target} is a directory; give the file name to write")
            target = target / f"{record.id}.{(record.type or '').lower()}"
        if url is None:
            # Always ask afresh: a record from `create` holds an upload (PUT) URL.
            assert file_id is not None
            url = _url_of(await self.retrieve(file_id))

        async def refresh() -> str:
            assert file_id is not None
            return _url_of(await self.retrieve(file_id))

        client = self._client
        async with client._transfer_slots():
            return await download_url(
                client._storage_session(),
                url,
                target,
                config=client.transfer_config,
                refresh=refresh if file_id else None,
                progress=progress,
            )


def _url_of(record: File) -> str:
    if not record.presigned_url:
        raise InvalidInputError(f"file {record.id} has no presigned URL (yet)")
    return record.presigned_url
