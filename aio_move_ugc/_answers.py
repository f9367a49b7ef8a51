"""Reading the API's answers into models: a shape the SDK cannot read is an API error."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from ._exceptions import APIStatusError

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
