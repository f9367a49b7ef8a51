"""What every resource shares: a reference to the client and typed execution of operations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from .. import _validation as check
from .._exceptions import APIStatusError
from .._graphql.operations import expand_words, operation
from ..pagination import AsyncPager
from ..types._models import Page, SortDirection

if TYPE_CHECKING:
    from .._client import AsyncMoveUgc

ModelT = TypeVar("ModelT", bound=BaseModel)


def parse(model: type[ModelT], value: Any, operation_name: str) -> ModelT:
    """`value` as `model`; an answer of another shape is an API error, not a pydantic one."""
    try:
        return model.model_validate(value)
    except PydanticValidationError as exc:
        # Only where and what: the input itself may hold presigned URLs.
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or model.__name__
        raise APIStatusError(
            f"the API answered {operation_name} with data this SDK cannot read "
            f"({where}: {first['msg']})",
            status=200,
            operation_name=operation_name,
        ) from None


def parse_items(model: type[ModelT], page: Any, operation_name: str) -> list[ModelT]:
    """The non-null `items` of a page-shaped answer, each as `model`."""
    items = page.get("items") if isinstance(page, dict) else None
    return [parse(model, item, operation_name) for item in items or [] if item]


class Resource:
    """A group of API operations (`ugc.jobs`, `ugc.files`...) bound to one client."""

    def __init__(self, client: AsyncMoveUgc) -> None:
        self._client = client

    async def _run(
        self,
        name: str,
        model: type[ModelT],
        variables: dict[str, Any] | None = None,
        expand: Iterable[str] | None = None,
    ) -> ModelT:
        words = check.expand(expand, expand_words(name))
        result = await self._client._execute(operation(name, words), variables)
        return parse(model, result, name)

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
            result = await self._client._execute(op, variables) or {}
            return Page[model](  # type: ignore[valid-type]
                items=parse_items(model, result, name),
                next_token=result.get("after"),
                first=result.get("first"),
            )

        return AsyncPager(fetch, next_token)
