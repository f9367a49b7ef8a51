"""Which public names of the package have no docstring (and which parameters no mention)."""

from __future__ import annotations

import enum
import functools
import importlib
import inspect
import pkgutil
import re
import typing
from collections.abc import Callable, Iterator
from typing import Any

import pydantic

import aio_move_ugc
import aio_move_ugc.testing
from aio_move_ugc import AsyncMoveUgc

INHERITED_FROM = (object, Exception, BaseException, pydantic.BaseModel, enum.Enum, str, int)
"""Members these bases define are documented where they come from."""


def _doc(obj: Any) -> str:
    # `__doc__` as written on the object itself: `inspect.getdoc` would borrow a base's.
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    return doc.strip() if isinstance(doc, str) else ""


def _own_members(cls: type) -> Iterator[tuple[str, Any]]:
    """Public methods and properties a class defines itself (not those of its library bases)."""
    for name, member in vars(cls).items():
        if name.startswith("_") or name in getattr(cls, "model_fields", {}):
            continue
        if isinstance(member, staticmethod | classmethod):
            member = member.__func__
        documentable = isinstance(
            member, property | functools.cached_property
        ) or inspect.isfunction(member)
        if documentable and not any(name in vars(base) for base in INHERITED_FROM):
            yield name, member


def _function_of(member: Any) -> Callable[..., Any] | None:
    if isinstance(member, property):
        return member.fget
    if isinstance(member, functools.cached_property):
        return member.func
    return member if callable(member) else None


def _parameters(function: Callable[..., Any]) -> list[str]:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return []
    return [
        p.name
        for p in signature.parameters.values()
        if p.name not in {"self", "cls"} and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def _mentions(doc: str, name: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", doc) is not None


def _resource_modules() -> list[str]:
    package = importlib.import_module("aio_move_ugc.resources")
    return [f"{package.__name__}.{info.name}" for info in pkgutil.iter_modules(package.__path__)]


def resource_classes() -> list[type]:
    """The classes of `ugc.files`, `ugc.jobs`... : the client's properties' return types."""
    found = []
    for _, member in _own_members(AsyncMoveUgc):
        function = _function_of(member)
        if isinstance(member, functools.cached_property) and function is not None:
            # Names the client imports for type checking only: bulk and the resources load on
            # first use.
            deferred: dict[str, Any] = {}
            for module in ("aio_move_ugc.bulk", *_resource_modules()):
                deferred.update(vars(importlib.import_module(module)))
            returned = typing.get_type_hints(function, localns=deferred).get("return")
            if isinstance(returned, type):
                found.append(returned)
    return found


def public_objects() -> dict[str, Any]:
    """Every public class and function, by the name a user reaches it with."""
    objects: dict[str, Any] = {}
    for module in (aio_move_ugc, aio_move_ugc.testing):
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) or inspect.isfunction(value):
                prefix = "" if module is aio_move_ugc else module.__name__ + "."
                objects[prefix + name] = value
    for cls in resource_classes():
        objects.setdefault(cls.__name__, cls)
    return objects


def undocumented() -> set[str]:
    """`Name`, `Name.member` and `Name.member(parameter)` entries lacking documentation.

    A class, function, method or property needs a docstring of its own. A parameter needs to
    be named in its function's docstring (for `__init__`, in the class's or `__init__`'s).
    Fields of pydantic models and dataclasses are attributes, not parameters, and are left to
    the models' own docstrings.
    """
    missing: set[str] = set()
    for name, obj in public_objects().items():
        if not _doc(obj):
            missing.add(name)
        if not isinstance(obj, type):
            doc = _doc(obj)
            missing.update(f"{name}({p})" for p in _parameters(obj) if not _mentions(doc, p))
            continue
        is_record = issubclass(obj, pydantic.BaseModel | enum.Enum) or hasattr(
            obj, "__dataclass_fields__"
        )
        init = vars(obj).get("__init__")
        if init is not None and not is_record:
            doc = _doc(obj) + "\n" + _doc(init)
            missing.update(f"{name}({p})" for p in _parameters(init) if not _mentions(doc, p))
        for member_name, member in _own_members(obj):
            qualified = f"{name}.{member_name}"
            function = _function_of(member)
            doc = _doc(function) if function is not None else ""
            if not doc:
                missing.add(qualified)
            if function is not None and not isinstance(
                member, property | functools.cached_property
            ):
                missing.update(
                    f"{qualified}({p})" for p in _parameters(function) if not _mentions(doc, p)
                )
    return missing
