"""Reading the API's answers into models: a shape the SDK cannot read is an API error."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic import ValidationError as PydanticValidationError

from ._exceptions import UnexpectedResponseError

ModelT = TypeVar("ModelT", bound=BaseModel)


def parse(model: type[ModelT], value: Any, operation_name: str) -> ModelT:
    """`value` as `model`; an answer of another shape is an API error, not a pydantic one."""
    try:
        return model.model_validate(value)
    except PydanticValidationError as exc:
        # Only where and what: the input itself may hold presigned URLs.
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or model.__name__
        raise UnexpectedResponseError(
            f"the API answered {operation_name} with data this SDK cannot read "
            f"({where}: {first['msg']})",
            operation_name=operation_name,
        ) from None


def parse_items(model: type[ModelT], page: Any, operation_name: str) -> list[ModelT]:
    """The non-null `items` of a page-shaped answer, each as `model`."""
    items = page.get("items") if isinstance(page, dict) else None
    return [parse(model, item, operation_name) for item in items or [] if item]


@cache
def decoder(model: type[ModelT], root: str) -> Callable[[bytes], ModelT | None]:
    """Reads a clean answer's bytes (`{"data": {root: {...}}}`, no errors) straight into
    `model`, in one pass (no `json.loads` first); None for anything else (errors, a null or
    malformed value, another shape), which the general path then reads and explains."""
    ignore = ConfigDict(extra="ignore")
    nullable: Any = model | None
    data = create_model(
        f"{model.__name__}Data",
        __config__=ignore,
        value=(nullable, Field(default=None, alias=root)),
    )
    nullable_data: Any = data | None
    envelope = create_model(
        f"{model.__name__}Answer",
        __config__=ignore,
        data=(nullable_data, None),
        errors=(Any, None),
    )
    validate = envelope.model_validate_json

    def decode(raw: bytes) -> ModelT | None:
        try:
            answer: Any = validate(raw)
        except PydanticValidationError:
            return None
        if answer.errors or answer.data is None:
            return None
        value: ModelT | None = answer.data.value
        return value

    return decode
