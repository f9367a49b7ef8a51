"""The error tree: its shape (drawn once, pinned here) and where each failure lands in it."""

from __future__ import annotations

import importlib
import re
from dataclasses import replace
from pathlib import Path

import pytest

import aio_move_ugc
from aio_move_ugc import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    InternalServerError,
    MoveUgcError,
    NotFoundError,
    OutcomeUnknownError,
    Timeout,
    VolumeFailedError,
)
from aio_move_ugc.emulator import Emulator, RouteFaults
from tests.client.support import camera_sources
from tests.client.test_transport import closed_port_url
from tests.support import MakeClient

ROOT = Path(__file__).resolve().parents[2]

PARENTS = {
    "InvalidInputError": "MoveUgcError",
    "ConfigurationError": "InvalidInputError",
    "OutputMissingError": "InvalidInputError",
    "ClientClosedError": "MoveUgcError",
    "APIError": "MoveUgcError",
    "APIConnectionError": "APIError",
    "APITimeoutError": "APIConnectionError",
    "OutcomeUnknownError": "APIError",
    "APIStatusError": "APIError",
    "AuthenticationError": "APIStatusError",
    "RateLimitError": "APIStatusError",
    "InternalServerError": "APIStatusError",
    "GraphQLResponseError": "APIStatusError",
    "NotFoundError": "GraphQLResponseError",
    "ValidationError": "GraphQLResponseError",
    "BadRequestError": "GraphQLResponseError",
    "BackendError": "GraphQLResponseError",
    "UnexpectedResponseError": "APIError",
    "StorageError": "MoveUgcError",
    "StorageConnectionError": "StorageError",
    "URLExpiredError": "StorageError",
    "IntegrityError": "StorageError",
    "DiskError": "MoveUgcError",
    "JobFailedError": "MoveUgcError",
    "VolumeFailedError": "MoveUgcError",
    "JobNotFoundError": "MoveUgcError",
    "VolumeNotFoundError": "MoveUgcError",
    "WatchTimeoutError": "MoveUgcError",
    "OutputsNotReadyError": "WatchTimeoutError",
    "WebhookVerificationError": "MoveUgcError",
}
"""Each error's parent in the tree. A change here is a change of the public API."""

BUILTIN_BASES = {
    "InvalidInputError": ValueError,
    "ClientClosedError": RuntimeError,
    "DiskError": OSError,
    "JobNotFoundError": LookupError,
    "VolumeNotFoundError": LookupError,
    "WatchTimeoutError": TimeoutError,
}
"""The built-in exceptions some of them also are, for code that catches those."""


def _parent(cls: type[BaseException]) -> str:
    """The one base of `cls` inside the tree."""
    ours = [b for b in cls.__bases__ if issubclass(b, MoveUgcError)]
    assert len(ours) == 1, f"{cls.__name__} has {len(ours)} parents in the tree"
    return ours[0].__name__


def _drawn_tree() -> dict[str, str]:
    """Parent of each class as the drawing in the errors module's docstring shows it."""
    module = importlib.import_module(MoveUgcError.__module__)
    assert module.__doc__ is not None
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in module.__doc__.splitlines():
        found = re.match(r"^[\s│├└─]*([A-Z]\w*Error)\b", line)
        if found is None:
            continue
        depth, name = found.start(1), found.group(1)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def test_every_error_has_the_parent_the_table_gives() -> None:
    exported = {
        name
        for name in aio_move_ugc.__all__
        if isinstance(getattr(aio_move_ugc, name), type)
        and issubclass(getattr(aio_move_ugc, name), MoveUgcError)
    }
    assert exported - {"MoveUgcError"} == set(PARENTS)
    for name, parent in PARENTS.items():
        assert _parent(getattr(aio_move_ugc, name)) == parent, name


def test_the_drawing_in_the_module_docstring_is_the_tree() -> None:
    assert _drawn_tree() == PARENTS


@pytest.mark.parametrize(("name", "builtin"), sorted(BUILTIN_BASES.items()))
def test_some_errors_are_also_builtin_exceptions(name: str, builtin: type) -> None:
    assert issubclass(getattr(aio_move_ugc, name), builtin)


def test_the_guide_draws_the_same_tree() -> None:
    guide = (ROOT / "docs" / "guides" / "errors.md").read_text()
    module = importlib.import_module(MoveUgcError.__module__)
    assert module.__doc__ is not None
    drawing = module.__doc__.split("\n\n")[1]
    lines = [line.strip() for line in drawing.splitlines()]
    for line in lines:
        assert line in guide, f"the errors guide lacks: {line}"


# ----------------------------------------------------------------------- where failures land


async def test_except_api_error_catches_a_refused_connection(make_client: MakeClient) -> None:
    ugc = make_client(endpoint_url=closed_port_url(), max_retries=0)
    with pytest.raises(APIError) as caught:
        await ugc.rigs.list()
    assert isinstance(caught.value, APIConnectionError)
    assert (caught.value.status, caught.value.request_id) == (None, None)


async def test_except_api_error_catches_a_timeout(emu: Emulator, make_client: MakeClient) -> None:
    ugc = make_client(timeout=Timeout(read=0.05), max_retries=0)
    emu.set_faults("graphql", RouteFaults(latency=0.5))
    with pytest.raises(APIError) as caught:
        await ugc.rigs.list()
    assert isinstance(caught.value, APITimeoutError)


async def test_a_500_on_a_create_is_an_unknown_outcome_not_a_connection_error(
    emu: Emulator, make_client: MakeClient
) -> None:
    ugc = make_client()
    emu.set_faults("graphql", RouteFaults(rate_500=1.0))
    with pytest.raises(OutcomeUnknownError) as caught:
        await ugc.files.create("mp4")
    error = caught.value
    assert isinstance(error, APIError)
    assert not isinstance(error, APIConnectionError | APIStatusError)
    assert isinstance(error.__cause__, InternalServerError)
    assert error.status == 500
    assert error.operation_name == "CreateFile"


async def test_a_500_on_a_query_is_an_internal_server_error(
    emu: Emulator, make_client: MakeClient
) -> None:
    ugc = make_client(max_retries=0)
    emu.set_faults("graphql", RouteFaults(rate_500=1.0))
    with pytest.raises(InternalServerError) as caught:
        await ugc.rigs.list()
    assert caught.value.status == 500


async def test_a_graphql_error_on_a_create_is_an_answer_not_an_unknown_outcome(
    emu: Emulator, make_client: MakeClient
) -> None:
    ugc = make_client()
    with pytest.raises(NotFoundError):
        await ugc.jobs.create_singlecam("take-00000000-0000-4000-8000-000000000000")
    assert emu.stats.graphql_requests == 1


async def test_a_failed_volume_is_a_volume_failed_error(
    emu: Emulator, make_client: MakeClient
) -> None:
    ugc = make_client()
    sources = await camera_sources(ugc)
    volume = await ugc.volumes.create_human_volume(sources, human_height=1.8, area_type="NORMAL")
    record = emu.state.volumes[volume.id]
    record.timeline = replace(record.timeline, fails=True)
    with pytest.raises(VolumeFailedError) as caught:
        await ugc.volumes.wait(volume.id, interval=0.02, max_interval=0.05, timeout=5)
    assert caught.value.volume_id == volume.id
    assert caught.value.state == "FAILED"


async def test_waiting_for_a_job_that_does_not_exist_is_a_job_not_found_error(
    make_client: MakeClient,
) -> None:
    from aio_move_ugc import JobNotFoundError

    ugc = make_client()
    missing = "job-00000000-0000-4000-8000-000000000000"
    with pytest.raises(JobNotFoundError) as caught:
        await ugc.jobs.wait(missing, interval=0.02, timeout=5)
    assert caught.value.job_id == missing
    assert not isinstance(caught.value, APIStatusError)
