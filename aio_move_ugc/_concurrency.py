"""Turning a task group's exception group back into the one error a caller can act on."""

from __future__ import annotations

import asyncio


def leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """Every exception inside `group`, nested groups flattened."""
    found: list[BaseException] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            found.extend(leaves(exc))
        else:
            found.append(exc)
    return found


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first exception in `group` that is not a cancellation (else the first)."""
    found = leaves(group)
    return next((e for e in found if not isinstance(e, asyncio.CancelledError)), found[0])
