"""Names a package exports but loads on first use (PEP 562), so that importing the package
costs only what every program needs."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, names: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module `__getattr__` for `package` that imports each of `names` on first use.

    `names` maps an exported name to where it lives: `".module"` (same name there) or
    `".module:attribute"`, relative to `package`. The value found is stored in `namespace`
    (the package's globals), so each name is looked up once.
    """

    def __getattr__(name: str) -> Any:
        target = names.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = target.partition(":")
        value = getattr(importlib.import_module(module, package), attribute or name)
        namespace[name] = value
        return value

    return __getattr__
