"""Same seed, same requests, same run: faults, job failures and ids repeat; another seed differs."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from aio_move_ugc.emulator import RouteFaults
from tests.support import MakeEmulator

from .support import GraphQLClient, Receiver

JOBS = 20
LIST_JOBS = (
    "{ listJobs(first: 50, sortDirection: ASC) { items { id state take { id }"
    " outputs { file { id } } } } }"
)


async def run(
    make_emulator: MakeEmulator, session: aiohttp.ClientSession, seed: int
) -> dict[str, Any]:
    """One scripted session against a fresh emulator; everything observable that a seed decides."""
    seen: dict[str, Any] = {}
    async with (
        Receiver() as receiver,
        make_emulator(
            seed=seed, failure_rate=0.5, job_queue_delay=0.01, job_duration=0.05, output_lag=0.0
        ) as emu,
    ):
        gql = GraphQLClient(session, emu)
        seen["client"] = (await gql.data("{ client { id } }"))["client"]["id"]

        # Faults on the GraphQL route: the fate of the n-th request.
        emu.set_faults(
            "graphql", RouteFaults(rate_429=0.15, rate_500=0.15, rate_503=0.15, reset_rate=0.15)
        )
        fates: list[str] = []
        for _ in range(30):
            try:
                status, _ = await gql.post("{ listRigs { items { name } } }")
                fates.append(str(status))
            except aiohttp.ClientError:
                fates.append("reset")
        emu.set_faults("graphql", None)
        seen["graphql_faults"] = fates

        # Faults on storage downloads.
        file_id = await gql.upload(content=b"x" * 5000)
        url = (
            await gql.data(
                "query($id: ID!) { getFile(fileId: $id) { presignedUrl } }", {"id": file_id}
            )
        )["getFile"]["presignedUrl"]
        emu.set_faults("storage_get", RouteFaults(rate_500=0.3, rate_503=0.3))
        storage_fates = []
        for _ in range(15):
            async with session.get(url) as resp:
                await resp.read()
                storage_fates.append(resp.status)
        emu.set_faults("storage_get", None)
        seen["storage_faults"] = storage_fates

        # Webhook deliveries run on timers while the script goes on: they must not move ids.
        await gql.data(
            'mutation($url: String!) { upsertWebhookEndpoint(uid: "r", url: $url) { uid } }',
            {"url": receiver.url},
        )
        jobs = []
        for index in range(JOBS):
            if index % 5 == 0:
                take_id = await gql.singlecam_take(file_id)
                await asyncio.sleep(0.06)  # let some jobs finish and notify mid-script
            job = await gql.singlecam_job(take_id, outputs=["MAIN_FBX"])
            jobs.append((take_id, job["id"]))
        while True:
            finals = (await gql.data(LIST_JOBS))["listJobs"]["items"]
            if all(f["state"] in ("FINISHED", "FAILED") for f in finals):
                break
            await asyncio.sleep(0.03)
        assert [(f["take"]["id"], f["id"]) for f in finals] == jobs
        seen["jobs"] = jobs
        seen["pattern"] = [f["state"] for f in finals]
        seen["outputs"] = [[o["file"]["id"] for o in f["outputs"]] for f in finals]
        seen["after"] = [await gql.upload() for _ in range(3)]
        share = await gql.data(
            "mutation($f: String!) { generateShareCode(fileId: $f) { code } }", {"f": file_id}
        )
        seen["share"] = share["generateShareCode"]["code"]
        await receiver.wait_for(2 * JOBS)
        seen["webhook_ids"] = sorted(h["svix-id"] for h, _ in receiver.accepted)
    return seen


async def test_same_seed_same_run_other_seed_other_run(
    make_emulator: MakeEmulator, session: aiohttp.ClientSession
) -> None:
    # The three runs overlap in time, which only makes their timings differ more.
    first, second, other = await asyncio.gather(
        run(make_emulator, session, seed=7),
        run(make_emulator, session, seed=7),
        run(make_emulator, session, seed=8),
    )

    # The script saw every kind of fate and both outcomes, so the comparisons mean something.
    assert set(first["graphql_faults"]) == {"200", "429", "500", "503", "reset"}
    assert {200, 500, 503} <= set(first["storage_faults"])
    assert 0 < first["pattern"].count("FAILED") < JOBS
    assert set(first["pattern"]) == {"FINISHED", "FAILED"}
    for state, outputs in zip(first["pattern"], first["outputs"], strict=True):
        assert len(outputs) == (1 if state == "FINISHED" else 0)

    assert second == first
    for key in first:
        assert other[key] != first[key], key
