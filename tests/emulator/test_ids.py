"""Ids: each emulator issues its own unless given a seed (then they repeat), and no UUID is
ever shared between two kinds of record."""

from __future__ import annotations

import uuid

import aiohttp
import pytest

from tests.support import MakeEmulator as EmulatorFactory

from .support import GraphQLClient


def _uuid(record_id: str) -> str:
    return str(uuid.UUID(record_id.split("-", 1)[1]))


async def _ids(
    make_emulator: EmulatorFactory, session: aiohttp.ClientSession, seed: int | None
) -> dict[str, list[str]]:
    """The ids of one scripted session: the client, files, takes and jobs it made."""
    async with make_emulator(seed=seed, job_queue_delay=0.0, job_duration=0.0) as emu:
        gql = GraphQLClient(session, emu)
        client = (await gql.data("{ client { id } }"))["client"]["id"]
        files = [await gql.upload() for _ in range(3)]
        takes = [await gql.singlecam_take(f) for f in files]
        jobs = [(await gql.singlecam_job(t))["id"] for t in takes for _ in range(2)]
    return {"client": [client], "file": files, "take": takes, "job": jobs}


@pytest.mark.parametrize("seed", [None, 0, 7])
async def test_no_uuid_is_two_kinds_of_record(
    make_emulator: EmulatorFactory, session: aiohttp.ClientSession, seed: int | None
) -> None:
    ids = await _ids(make_emulator, session, seed)
    everything = [i for kind in ids.values() for i in kind]
    for kind, kind_ids in ids.items():
        assert all(i.startswith(f"{kind}-") for i in kind_ids), kind_ids
    uuids = [_uuid(i) for i in everything]
    assert len(set(uuids)) == len(uuids), everything


async def test_without_a_seed_every_emulator_has_its_own_ids(
    make_emulator: EmulatorFactory, session: aiohttp.ClientSession
) -> None:
    first = await _ids(make_emulator, session, None)
    second = await _ids(make_emulator, session, None)
    for kind in first:
        assert not set(first[kind]) & set(second[kind]), kind
    # Nor across kinds: the first run's take is never the second run's job.
    assert not {_uuid(i) for k in first.values() for i in k} & {
        _uuid(i) for k in second.values() for i in k
    }


async def test_with_a_seed_ids_repeat(
    make_emulator: EmulatorFactory, session: aiohttp.ClientSession
) -> None:
    first = await _ids(make_emulator, session, 3)
    assert await _ids(make_emulator, session, 3) == first
    other = await _ids(make_emulator, session, 4)
    for kind in first:
        assert not set(first[kind]) & set(other[kind]), kind
