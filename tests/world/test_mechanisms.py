"""The mechanisms the hostile world's findings were fixed at, each over generated cases: Retry-After
in both forms, server text scrubbed wherever a secret stands in it, distinct local names for
outputs, aclose() waking a back-off, a dropped client that logs nothing at ERROR, and one client
in two event loops at once."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from email.utils import formatdate
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aio_move_ugc import AsyncMoveUgc, ClientClosedError, OutputType, RetryPolicy
from aio_move_ugc._redact import scrub_text
from aio_move_ugc._retry import retry_after_from
from aio_move_ugc.emulator import Emulator, EmulatorConfig, Hostility, RouteFaults
from aio_move_ugc.testing import EmulatorThread
from aio_move_ugc.transfers.outputs import OutputLabel, distinct_targets

from ..conftest import FAST

words = st.text(st.characters(codec="ascii", categories=["L", "N", "Zs"]), max_size=40)


@given(seconds=st.integers(0, 10**6), skew=st.integers(-(10**7), 10**7))
def test_retry_after_as_a_date_is_measured_from_the_answers_own_date(
    seconds: int, skew: int
) -> None:
    server_now = time.time() + skew  # the server's clock may be far from ours
    headers = {
        "Retry-After": formatdate(server_now + seconds, usegmt=True),
        "Date": formatdate(server_now, usegmt=True),
    }
    assert retry_after_from(headers) == pytest.approx(seconds, abs=1)
    assert retry_after_from({"Retry-After": str(seconds)}) == seconds


@pytest.mark.parametrize("value", ["", "soon", "-5", "nan", "inf", "Mon, 99 Foo 2020"])
def test_an_unreadable_or_negative_retry_after_asks_for_no_wait(value: str) -> None:
    got = retry_after_from({"Retry-After": value})
    assert got is None or got == 0.0


@given(head=words, tail=words, where=st.sampled_from(["key", "url", "both"]))
def test_server_text_loses_the_key_and_signed_urls_wherever_they_stand(
    head: str, tail: str, where: str
) -> None:
    key = "emulator-api-key-0123456789"
    url = (
        "https://bucket.s3.amazonaws.com/outputs/a.fbx?AWSAccessKeyId=ASIA1"
        "&Signature=c2lnbmF0dXJl%2B&x-amz-security-token=IQoJb3JpZ2lu&Expires=1"
    )
    secret = {"key": key, "url": url, "both": f"{key} {url}"}[where]
    text = scrub_text(f"{head} {secret} {tail}", [key])
    for piece in (key, "c2lnbmF0dXJl", "IQoJb3JpZ2lu", "Signature="):
        assert piece not in text
    assert text.startswith(head)
    assert text.endswith(tail)


@given(labels=st.lists(st.sampled_from(["main_fbx", "MAIN_FBX", "Main_Fbx", "fbx"]), min_size=1))
def test_outputs_that_would_share_a_name_get_names_of_their_own(labels: list[str]) -> None:
    names = {OutputLabel(f"{label}-{i}"): f"job-1_{label}.fbx" for i, label in enumerate(labels)}
    names[OutputType.MAIN_FBX] = "job-1_main_fbx.fbx"
    targets = distinct_targets(Path("out"), names)
    assert len({str(p).casefold() for p in targets.values()}) == len(names)
    assert all(p.suffix == ".fbx" for p in targets.values())


async def test_aclose_wakes_a_back_off_with_client_closed_error() -> None:
    # Every answer is a 503 asking for an hour's wait: the retry sleeps (in real time).
    config = EmulatorConfig(
        faults={"graphql": RouteFaults(rate_503=1.0)},
        hostility=Hostility(retry_after_seconds=3600.0),
    )
    async with Emulator(config) as emu:
        ugc = AsyncMoveUgc(
            emu.api_key,
            endpoint_url=emu.endpoint_url,
            retry=RetryPolicy(max_retries=3, max_retry_after=3600.0),
        )
        task = asyncio.ensure_future(ugc.client.retrieve())
        while emu.stats.graphql_requests < 1:  # noqa: ASYNC110 - the server's count
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)
        started = time.monotonic()
        await ugc.aclose()
        with pytest.raises(ClientClosedError):
            await task
        assert time.monotonic() - started < 0.5


async def test_a_client_dropped_without_aclose_logs_nothing_at_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    async with Emulator(FAST) as emu:
        ugc = AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url)
        await ugc.client.retrieve()
        del ugc
        gc.collect()
        await asyncio.sleep(0.05)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_one_client_serves_two_event_loops_at_once_budget_included() -> None:
    # Two threads, each with its own asyncio.run, share one client and its rate budget: both
    # finish (a lock of one loop left the other waiting for ever).
    with EmulatorThread(FAST) as server:
        ugc = AsyncMoveUgc(server.api_key, endpoint_url=server.endpoint_url, rate_limit=1000)
        done: list[str] = []

        def run() -> None:
            async def calls() -> None:
                await asyncio.gather(*[ugc.client.retrieve() for _ in range(20)])

            asyncio.run(calls())
            done.append("ok")

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(15)
        assert done == ["ok", "ok"]
        assert ugc.requests_sent == 40
