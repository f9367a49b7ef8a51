"""The error paths every resource method goes through, checked against the emulator.

Each resource's test module describes its methods as `Case`s; the functions here drive one
case through one path and check what the emulator saw (requests, faults, records created).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from aio_move_ugc import (
    AsyncMoveUgc,
    AuthenticationError,
    NotFoundError,
    OutcomeUnknownError,
    ValidationError,
)
from aio_move_ugc._schema.operations import Operation, operation
from aio_move_ugc.emulator import Emulator, RouteFaults

from .support import inject_once

Prepare = Callable[[AsyncMoveUgc], Awaitable[Any]]
Call = Callable[[AsyncMoveUgc, Any], Awaitable[Any]]
Check = Callable[[Emulator, Any, Any], None]


async def _nothing(ugc: AsyncMoveUgc) -> None:
    return None


def _no_check(emu: Emulator, ctx: Any, result: Any) -> None:
    return None


@dataclass(frozen=True)
class Case:
    """One resource method: how to call it with good arguments and what that should do."""

    method: str
    operation: str
    call: Call
    prepare: Prepare = _nothing
    """Creates what the call needs (returned as `ctx`), with the same client."""
    check: Check = _no_check
    """Checks the call's result (given the emulator and `ctx`)."""
    creates: str | None = None
    """The `emu.state` table a successful call adds one record to."""

    def __str__(self) -> str:
        return self.method


def records(emu: Emulator, case: Case) -> int:
    return len(getattr(emu.state, case.creates)) if case.creates else 0


async def succeeds(case: Case, emu: Emulator, ugc: AsyncMoveUgc) -> Any:
    ctx = await case.prepare(ugc)
    before, sent = records(emu, case), emu.stats.graphql_requests
    result = await case.call(ugc, ctx)
    assert emu.stats.graphql_requests - sent == 1
    assert emu.stats.operations[case.operation] >= 1
    if case.creates:
        assert records(emu, case) - before == 1
    case.check(emu, ctx, result)
    return result


async def succeeds_after_fault(case: Case, emu: Emulator, ugc: AsyncMoveUgc, kind: str) -> None:
    """The first attempt meets `kind` (429, 503, reset of a query); the retry succeeds."""
    ctx = await case.prepare(ugc)
    before, sent = records(emu, case), emu.stats.graphql_requests
    inject_once(emu, kind)
    result = await case.call(ugc, ctx)
    emu.set_faults("graphql", None)
    assert emu.stats.faults[f"graphql {kind}"] == 1
    assert emu.stats.graphql_requests - sent == 2
    if case.creates:
        assert records(emu, case) - before == 1, "the retry created a duplicate"
    case.check(emu, ctx, result)


async def unauthorized(
    case: Case, emu: Emulator, ugc: AsyncMoveUgc, wrong_key: AsyncMoveUgc
) -> None:
    ctx = await case.prepare(ugc)
    before, sent = records(emu, case), emu.stats.graphql_requests
    with pytest.raises(AuthenticationError) as caught:
        await case.call(wrong_key, ctx)
    error = caught.value
    assert error.status == 401
    assert error.error_type == "UnauthorizedException"
    assert error.operation_name == case.operation
    assert error.request_id
    assert emu.stats.graphql_requests - sent == 1, "a refused key is not worth a retry"
    assert records(emu, case) == before


def broken(op: Operation) -> Operation:
    """`op` asking for a field its type does not have."""
    cut = op.document.rindex("} }")
    document = f"{op.document[:cut]}notAField {op.document[cut:]}"
    return Operation(name=op.name, document=document, root=op.root, creates=op.creates)


async def rejected_document(case: Case, emu: Emulator, ugc: AsyncMoveUgc) -> None:
    sent = emu.stats.graphql_requests
    with pytest.raises(ValidationError) as caught:
        await ugc._ctx.execute(broken(operation(case.operation)), {})
    error = caught.value
    assert error.status == 200
    assert error.operation_name == case.operation
    assert error.request_id
    assert error.errors
    assert any("notAField" in e["message"] for e in error.errors)
    assert emu.stats.graphql_requests - sent == 1, "a rejected document is not worth a retry"


async def connection_cut(case: Case, emu: Emulator, ugc: AsyncMoveUgc) -> None:
    """The emulator executes the request, then cuts the answer in the middle."""
    ctx = await case.prepare(ugc)
    before, sent = records(emu, case), emu.stats.graphql_requests
    if not case.creates:
        inject_once(emu, "reset")
        result = await case.call(ugc, ctx)
        emu.set_faults("graphql", None)
        assert emu.stats.faults["graphql reset"] == 1
        assert emu.stats.graphql_requests - sent == 2
        case.check(emu, ctx, result)
        return
    emu.set_faults("graphql", RouteFaults(reset_rate=1.0))
    with pytest.raises(OutcomeUnknownError) as caught:
        await case.call(ugc, ctx)
    emu.set_faults("graphql", None)
    error = caught.value
    assert error.operation_name == case.operation
    assert error.lookup
    assert error.lookup in str(error)
    assert emu.stats.graphql_requests - sent == 1, "a create whose outcome is unknown was retried"
    assert records(emu, case) - before == 1, "exactly one record, created by the only attempt"


async def not_found(call: Awaitable[Any], emu: Emulator, operation_name: str) -> NotFoundError:
    sent = emu.stats.graphql_requests
    with pytest.raises(NotFoundError) as caught:
        await call
    error = caught.value
    assert error.status == 200
    assert error.operation_name == operation_name
    assert error.request_id
    assert error.error_type == "MoveNotFoundError"
    assert error.errors[0]["message"] == "Resource not found in move-ugc-api."
    assert emu.stats.graphql_requests - sent == 1, "not found is an answer, not a fault"
    return error
