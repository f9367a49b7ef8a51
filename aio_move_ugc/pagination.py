"""Pagers: `await pager` for one page, `async for item in pager` for every item of every page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

from ._exceptions import APIStatusError

if TYPE_CHECKING:
    from .types._models import Page

T = TypeVar("T")

PageFetcher: TypeAlias = "Callable[[str | None], Awaitable[Page[T]]]"
"""Fetches the page after a token (None: the first). A string: parametrizing `Page` at import
would build its validator (tens of milliseconds) before anything is listed."""


class AsyncPager(Generic[T]):
    """What `list()` returns.

    `page = await ugc.jobs.list(limit=20)` fetches one page (`page.items`, `page.next_token`);
    `async for job in ugc.jobs.list():` walks every page, one request per page, lazily.

    Made by the `list()` calls; there is no need to build one by hand. `fetch(token)` reads
    the page after `token` (None: the first page); `next_token` is where the pager starts.
    """

    def __init__(self, fetch: PageFetcher[T], next_token: str | None = None) -> None:
        self._fetch = fetch
        self._start = next_token

    def __await__(self) -> Generator[Any, None, Page[T]]:
        return self._fetch(self._start).__await__()

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Every page in turn, starting from the token the pager was made with.

        The cursor is followed while it is not null, an empty page included (DynamoDB filters
        after its page limit, so a page may hold nothing while more follow); a cursor that
        comes back a second time would loop forever, and raises `APIStatusError` instead."""
        token = self._start
        seen: set[str] = set() if token is None else {token}
        while True:
            page = await self._fetch(token)
            yield page
            if not page.next_token:
                return
            token = page.next_token
            if token in seen:
                raise APIStatusError(
                    "the API answered a page cursor it had given before; listing stopped "
                    "rather than loop",
                    status=200,
                )
            seen.add(token)

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item
