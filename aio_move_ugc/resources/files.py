"""`ugc.files`: file records (create, retrieve, update, share codes)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import anyio

from .. import _validation as check
from .._exceptions import InvalidInputError, UnexpectedResponseError
from ..transfers.config import Progress
from ..transfers.download import check_destination, download_url
from ..transfers.naming import file_filename
from ..transfers.storage import md5_of_etag, redact_url
from ..transfers.upload import check_upload_source, upload_file, upload_new_file
from ..types._models import File, ShareCode
from ._base import Resource


class Files(Resource):
    """`ugc.files`: file records, and uploads and downloads through their presigned URLs."""

    async def create(
        self,
        file_type: str,
        *,
        name: str | None = None,
        metadata: Any = None,
        expand: Iterable[str] | None = None,
    ) -> File:
        """Create a file record; its `presigned_url` is where to PUT the bytes (see `upload`).

        Args:
            file_type: the file's type, as its extension (`mp4`, say): letters and digits
                in any case, with or without a leading dot; the service decides which
                types it takes.
            name: a name for the record.
            metadata: any JSON-serialisable value, kept with the record.
            expand: related objects to include in the answer; a file accepts `["client"]`.

        Returns:
            The new record, its `presigned_url` a presigned PUT URL.

        Raises:
            InvalidInputError: a type that is not an extension, or a bad name, metadata or
                expand word (nothing was sent).
        """
        variables = {
            "type": check.file_type(file_type),
            "name": check.text(name, "name"),
            "metadata": check.create_metadata(metadata),
        }
        return await self._run("CreateFile", File, variables, expand)

    async def retrieve(self, id: str, *, expand: Iterable[str] | None = None) -> File:
        """A file by id; its `presigned_url` is a download URL.

        Args:
            id: the file's id (`file-<uuid>`).
            expand: related objects to include; a file accepts `["client"]`.

        Raises:
            InvalidInputError: a malformed id or an unknown expand word (nothing was sent).
            NotFoundError: no such file.
        """
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
        """Change a file's metadata or name; what is None is left as it is.

        Args:
            id: the file's id (`file-<uuid>`).
            metadata: the new metadata, any JSON-serialisable value.
            name: the new name.
            expand: related objects to include in the answer; a file accepts `["client"]`.

        Returns:
            The updated record.

        Raises:
            InvalidInputError: a malformed id, metadata, name or expand word (nothing was sent).
            NotFoundError: no such file.
        """
        variables = {
            "id": check.identifier(id, "file"),
            "metadata": check.metadata(metadata),
            "name": check.text(name, "name"),
        }
        return await self._run("UpdateFile", File, variables, expand)

    async def generate_share_code(self, file_id: str) -> ShareCode:
        """A code (and URL) that lets others download the file.

        Args:
            file_id: the file's id (`file-<uuid>`).

        Returns:
            The code, its URL, and when it was created and expires.

        Raises:
            InvalidInputError: a malformed id (nothing was sent).
            NotFoundError: no such file.
        """
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

        The `type` comes from the suffix of `path` unless given. The bytes are sent with
        their exact length and no Content-Type, and the storage's ETag is checked against the
        MD5 of what was read. Transient failures re-send from the start; an expired URL is
        replaced by a new file record. The record gets the given `name` and `metadata` (any
        JSON-serialisable value). `progress(done, total)` is called as bytes go out.
        `on_record(file)` is awaited with each record before bytes are sent to it: a program
        that journals it can tell, after a crash, which record may hold its video.

        Returns the record whose URL received the bytes. Raises `InvalidInputError` (nothing
        sent) for a missing, empty, unreadable or oversized file, an unsupported type or a
        bad name or metadata; `StorageError` when the transfer fails for good.
        """
        source, size, file_type = check_upload_source(path, type)
        check.text(name, "name")
        check.metadata(metadata)
        return await upload_new_file(
            self._ctx,
            source,
            size,
            create=lambda: self.create(file_type, name=name, metadata=metadata),
            on_record=on_record,
            progress=progress,
        )

    async def upload_to_url(
        self,
        url: str,
        path: str | os.PathLike[str],
        *,
        progress: Progress | None = None,
    ) -> str:
        """Stream `path` to a presigned PUT `url` already at hand (a `File` from `create` holds
        one); returns the MD5 (hex) the storage's ETag confirmed. `progress(done, total)` is
        called as bytes go out. Retried like `upload`, but an expired URL is an error here
        (`URLExpiredError`): only `upload` makes a new record.
        """
        target = check.http_url(url, "upload URL")
        source, size, _ = check_upload_source(path, "mp4")
        async with self._ctx.transfer_slots():
            return await upload_file(
                self._ctx, source, size, target, refresh=None, progress=progress
            )

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
        renamed into place. When `dest` is a directory — an existing one, or any path
        ending in a separator — the name is `<file id>.<type>`. `progress(done, total)` is
        called as bytes arrive. Returns where it landed.

        Raises `InvalidInputError` for a malformed `file` or an unusable `dest` (a directory
        given a bare URL), `NotFoundError` for an unknown file id, `StorageError` when the
        transfer fails for good (`IntegrityError` when the bytes do not check out).
        """
        as_directory = isinstance(dest, str) and dest.endswith(("/", os.sep))
        target = check.path(dest, "dest")
        file_id: str | None = None
        url: str | None = None
        record: File | None = None
        if isinstance(file, File):
            record, file_id = file, check.identifier(file.id, "file")
        elif isinstance(file, str) and file.startswith(("http://", "https://")):
            url = check.http_url(file, "download URL")
        elif isinstance(file, str):
            file_id = check.identifier(file, "file")
        else:
            raise InvalidInputError("file must be a File, a file id or a presigned URL")
        if as_directory or await anyio.Path(target).is_dir():
            check.directory(target, "dest")
            if file_id is None:
                raise InvalidInputError(f"{target} is a directory; give the file name to write")
            if record is None or record.type is None:
                record = await self.retrieve(file_id)
            target = target / file_filename(record.id, record.type)
        await anyio.to_thread.run_sync(check_destination, target)

        async def fresh_url() -> str:
            # Always ask afresh: a record from `create` holds an upload (PUT) URL.
            assert file_id is not None
            return _url_of(await self.retrieve(file_id))

        async with self._ctx.transfer_slots():
            return await download_url(
                self._ctx,
                url if url is not None else fresh_url,
                target,
                refresh=fresh_url if file_id else None,
                progress=progress,
            )

    async def probe(self, file: File | str) -> tuple[int, str | None] | None:
        """What storage holds for a file (a `File`, a file id or a presigned GET URL): its
        size and hex MD5 (None when the ETag is not an MD5), or None when nothing is stored.

        One request for the record's URL (unless given a URL) and one 1-byte ranged GET: how
        a program that crashed mid-upload learns whether the bytes arrived.
        """
        if isinstance(file, str) and file.startswith(("http://", "https://")):
            url = check.http_url(file, "URL")
        else:
            file_id = file.id if isinstance(file, File) else check.identifier(file, "file")
            url = _url_of(await self.retrieve(file_id))
        found = await self._ctx.storage.probe(url, what=f"probe of {redact_url(url)}")
        return None if found is None else (found[0], md5_of_etag(found[1]))


def _url_of(record: File) -> str:
    if not record.presigned_url:
        raise UnexpectedResponseError(f"the API gave file {record.id} without a presigned URL")
    return record.presigned_url
