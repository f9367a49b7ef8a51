"""The client's GraphQL requests answered by an emulator in-process, without a socket."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from .._transport import RawAnswer

if TYPE_CHECKING:
    from ..emulator import Emulator
    from ..emulator._server import GraphQLAnswer
    from ._kit import EmulatorThread


class InProcessTransport:
    """An `ApiTransport` that hands each GraphQL request straight to an emulator's GraphQL
    route: no socket, no HTTP parsing, the same answers (faults, key check, request budget,
    AppSync-shaped errors) and the same counters.

    ```python
    async with Emulator() as emu, AsyncMoveUgc(
        emu.api_key, endpoint_url=emu.endpoint_url, transport=InProcessTransport(emu)
    ) as ugc:
        await ugc.client.retrieve()
    ```

    For tests where the wire is not the point. Uploads and downloads still go to the
    emulator's storage over HTTP (presigned URLs are URLs), so the emulator must be serving
    for those. A connection reset fault of the emulator is raised as `ConnectionResetError`,
    which the client treats as a connection that broke mid-answer, as on the wire.
    """

    def __init__(self, emulator: Emulator | EmulatorThread) -> None:
        self._emulator = emulator

    def __repr__(self) -> str:
        return f"InProcessTransport({type(self._emulator).__name__})"

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> RawAnswer:
        """Answer one POST of `body` to the emulator's GraphQL route.

        `url` is the client's endpoint (not used: the emulator given is the one answering);
        `headers` are the request's (the emulator checks `Authorization` as on the wire)."""
        from ._kit import EmulatorThread

        emulator = self._emulator
        if isinstance(emulator, EmulatorThread):
            server = emulator.emulator
            future = emulator.submit(_answer, server, dict(headers), body)
            answer = cast("GraphQLAnswer", await asyncio.wrap_future(future))
        else:
            answer = await _answer(emulator, dict(headers), body)
        if answer.cut_at is not None:
            raise ConnectionResetError("the emulator dropped the connection mid-answer")
        return RawAnswer(answer.status, answer.headers, answer.body)

    async def aclose(self) -> None:
        """Nothing to release: the emulator belongs to whoever started it."""


async def _answer(emulator: Emulator, headers: dict[str, str], body: bytes) -> GraphQLAnswer:
    async def read() -> bytes:
        return body

    return await emulator.answer_graphql("POST", headers, read)
