"""What every resource shares: a reference to the client and typed execution of operations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from .. import _validation as check
from .._answers import decoder, parse, parse_items
from .._exceptions import APIStatusError
from .._schema.operations import expand_words, operation
from ..pagination import AsyncPager
from ..types._enums import SortDirection
from ..types._models import Page

if TYPE_CHECKING:
    from .._context import ClientContext

ModelT = TypeVar("ModelT", bound=BaseModel)


class Resource:
    """A group of API operations (`ugc.jobs`, `ugc.files`...) bound to one client."""

    def __init__(self, ctx: ClientContext) -> None:
        self._ctx = ctx

    async def _run(
        self,
        name: str,
        model: type[ModelT],
        variables: dict[str, Any] | None = None,
        expand: Iterable[str] | None = None,
    ) -> ModelT:
        words = check.expand(expand, expand_words(name))
        op = operation(name, words)
        decode = decoder(model, op.root) if op.root else None
        result = await self._ctx.execute(op, variables, decode=decode)
        # A clean answer arrives as the model already; anything else is read and explained.
        return result if isinstance(result, model) else parse(model, result, name)

    def _pager(
        self,
        name: str,
        model: type[ModelT],
        *,
        limit: int | None,
        next_token: str | None,
        sort_by: SortDirection | str,
        expand: Iterable[str] | None,
        extra: dict[str, Any] | None = None,
    ) -> AsyncPager[ModelT]:
        size = check.page_size(limit)
        direction = check.enum_value(SortDirection, sort_by, "sort direction").value
        words = check.expand(expand, expand_words(name))
        op = operation(name, words)

        async def fetch(token: str | None) -> Page[ModelT]:
            variables = {"first": size, "after": token, "sortDirection": direction, **(extra or {})}
            result = await self._ctx.execute(op, variables) or {}
            after = result.get("after") if isinstance(result, dict) else None
            if after is not None and not isinstance(after, str):
                # A cursor is opaque but a string; anything else cannot be sent back.
                raise APIStatusError(
                    f"the API answered {name} with a page cursor of JSON type "
                    f"{type(after).__name__}, not a string",
                    status=200,
                    operation_name=name,
                )
            first = result.get("first") if isinstance(result, dict) else None
            return Page[model](  # type: ignore[valid-type]
                items=parse_items(model, result, name),
                next_token=after,
                first=first if isinstance(first, int) and not isinstance(first, bool) else None,
            )

        return AsyncPager(fetch, next_token)
