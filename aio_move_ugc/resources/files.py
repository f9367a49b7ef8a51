"""`ugc.files`: file records (create, retrieve, update, share codes)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import _validation as check
from ..types._models import File, ShareCode
from ._base import Resource


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

    async def retrieve(self, id: str, *, expand: Iterable[str] | None = None) -> File:  # noqa: A002
        """A file by id; its `presigned_url` is a download URL."""
        variables = {"fileId": check.identifier(id, "file")}
        return await self._run("GetFile", File, variables, expand)

    async def update(
        self,
        id: str,  # noqa: A002
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
