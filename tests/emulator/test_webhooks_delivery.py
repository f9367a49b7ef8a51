"""Webhook deliveries from the emulator to a real receiver, checked with `standardwebhooks`."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.support import MakeEmulator

from .support import GraphQLClient, Receiver

STARTED = "ugc.job.state.started"
COMPLETED = "ugc.job.state.completed"
FAILED = "ugc.job.state.failed"
ALL_EVENTS = [STARTED, COMPLETED, FAILED]
GIVEN_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

UPSERT = """
mutation($uid: String!, $url: String!, $events: [String!], $secret: String) {
  upsertWebhookEndpoint(uid: $uid, url: $url, events: $events, secret: $secret) { uid secret }
}
"""


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for the sender's own bookkeeping, which finishes just after the receiver answers."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)


def standard_headers(headers: dict[str, str]) -> dict[str, str]:
    """Svix names its headers `svix-*`; the Standard Webhooks library reads `webhook-*`."""
    return {k.lower().replace("svix-", "webhook-"): v for k, v in headers.items()}


def verify(secret: str, delivery: tuple[dict[str, str], bytes]) -> Any:
    headers, body = delivery
    return Webhook(secret).verify(body, standard_headers(headers))


async def subscribe(
    gql: GraphQLClient, url: str, events: list[str], secret: str | None = None, uid: str = "hook"
) -> str:
    data = await gql.data(UPSERT, {"uid": uid, "url": url, "events": events, "secret": secret})
    returned: str = data["upsertWebhookEndpoint"]["secret"]
    assert returned.startswith("whsec_")
    return returned


def check_payload(
    payload: dict[str, Any], event: str, client_id: str, job: dict[str, Any], take_id: str
) -> None:
    assert set(payload) == {"event_name", "timestamp", "detail"}
    assert payload["event_name"] == event
    moment = datetime.fromisoformat(payload["timestamp"])
    assert moment.tzinfo is not None
    assert abs(moment.timestamp() - time.time()) < 60
    detail = payload["detail"]
    assert set(detail) == {"client_id", "event_attributes"}
    assert detail["client_id"] == client_id
    attributes = detail["event_attributes"]
    assert set(attributes) == {"job", "take"}
    assert attributes["job"]["id"] == job["id"]
    assert attributes["job"]["name"] == job["name"]
    assert attributes["take"]["id"] == take_id


async def test_job_events_are_signed_with_the_generated_secret(
    make_emulator: MakeEmulator, session: aiohttp.ClientSession
) -> None:
    async with Receiver() as receiver, make_emulator() as emu:
        gql = GraphQLClient(session, emu)
        secret = await subscribe(gql, receiver.url, ALL_EVENTS)
        client_id = (await gql.data("{ client { id } }"))["client"]["id"]
        take_id = await gql.singlecam_take(name="take one")
        job = await gql.singlecam_job(take_id, name="job one", outputs=["MAIN_FBX"])
        job["name"] = "job one"
        deliveries = await receiver.wait_for(2)
        events = []
        for delivery in deliveries:
            payload = verify(secret, delivery)
            events.append(payload["event_name"])
            check_payload(payload, payload["event_name"], client_id, job, take_id)
            assert payload["detail"]["event_attributes"]["take"]["name"] == "take one"
        assert events == [STARTED, COMPLETED]
        started, completed = (json.loads(body) for _, body in deliveries)
        assert started["detail"]["event_attributes"]["job"]["state"] == "RUNNING"
        finished_job = completed["detail"]["event_attributes"]["job"]
        assert finished_job["state"] == "FINISHED"
        assert finished_job["progress"] == {"state": "FINISHED", "percentageComplete": 100}
        assert finished_job["outputs"] == ["MAIN_FBX"]
        # By the time `completed` arrives, the API agrees.
        assert (await gql.job(job["id"]))["state"] == "FINISHED"

        headers, body = deliveries[0]
        assert headers["Content-Type"] == "application/json"
        assert headers["svix-id"].startswith("msg_")
        assert headers["svix-id"] != deliveries[1][0]["svix-id"]
        assert abs(int(headers["svix-timestamp"]) - time.time()) < 60
        version, signature = headers["svix-signature"].split(",", 1)
        assert version == "v1"
        assert len(base64.b64decode(signature)) == 32  # HMAC-SHA256
        # The emulator's own record of what it delivered matches what arrived.
        await until(lambda: emu.stats.webhook_deliveries == 2)
        assert [d["body"] for d in emu.webhooks.delivered] == [b for _, b in deliveries]
        assert emu.stats.webhook_attempts == 2

        # Tampering with anything signed is caught.
        with pytest.raises(WebhookVerificationError):
            verify(secret, (headers, body.replace(b"job one", b"job two")))
        with pytest.raises(WebhookVerificationError):
            verify(GIVEN_SECRET, (headers, body))
        stale = dict(headers, **{"svix-timestamp": str(int(time.time()) - 600)})
        with pytest.raises(WebhookVerificationError, match="too old"):
            verify(secret, (stale, body))


async def test_caller_given_secret_signs_deliveries(
    make_emulator: MakeEmulator, session: aiohttp.ClientSession
) -> None:
    async with Receiver() as receiver, make_emulator() as emu:
        gql = GraphQLClient(session, emu)
        assert await subscribe(gql, receiver.url, [COMPLETED], secret=GIVEN_SECRET) == GIVEN_SECRET
        job = await gql.singlecam_job()
        [delivery] = await receiver.wait_for(1)
        payload = verify(GIVEN_SECRET, delivery)
        assert payload["event_name"] == COMPLETED
        assert payload["detail"]["event_attributes"]["job"]["id"] == job["id"]
        # Only the subscribed event was sent: no `started`.
        await asyncio.sleep(0.1)
        assert len(receiver.attempts) == 1


async def test_secret_changes_on_upsert(
    make_emulator: MakeEmulator, session: aiohttp.ClientSession
) -> None:
    async with Receiver() as receiver, make_emulator() as emu:
        gql = GraphQLClient(session, emu)
        first = await subscribe(gql, receiver.url, [COMPLETED])
        again = await gql.data(UPSERT, {"uid": "hook", "url": receiver.url, "secret": GIVEN_SECRET})
        assert again["upsertWebhookEndpoint"]["secret"] is None  # only shown on creation
        await gql.singlecam_job()
        [delivery] = await receiver.wait_for(1)
        assert verify(GIVEN_SECRET, delivery)["event_name"] == COMPLETED
        with pytest.raises(WebhookVerificationError):
            verify(first, delivery)


async def test_failed_job_event(
    make_emulator: MakeEmulator, session: aiohttp.ClientSession
) -> None:
    async with Receiver() as receiver, make_emulator(failure_rate=1.0) as emu:
        gql = GraphQLClient(session, emu)
        secret = await subscribe(gql, receiver.url, ALL_EVENTS)
        job = await gql.singlecam_job()
        deliveries = await receiver.wait_for(2)
        payloads = [verify(secret, d) for d in deliveries]
        assert [p["event_name"] for p in payloads] == [STARTED, FAILED]
        failed = payloads[1]["detail"]["event_attributes"]["job"]
        assert failed["id"] == job["id"]
        assert failed["state"] == "FAILED"
        assert failed["progress"]["state"] == "FAILED"


async def test_every_endpoint_gets_its_own_signature(
    make_emulator: MakeEmulator, session: aiohttp.ClientSession
) -> None:
    async with Receiver() as one, Receiver() as two, make_emulator() as emu:
        gql = GraphQLClient(session, emu)
        secret_one = await subscribe(gql, one.url, [COMPLETED], uid="one")
        secret_two = await subscribe(gql, two.url, [COMPLETED], uid="two")
        await gql.singlecam_job()
        [got_one] = await one.wait_for(1)
        [got_two] = await two.wait_for(1)
        assert got_one[1] == got_two[1]
        assert got_one[0]["svix-id"] != got_two[0]["svix-id"]
        assert verify(secret_one, got_one) == verify(secret_two, got_two)
        with pytest.raises(WebhookVerificationError):
            verify(secret_two, got_one)


async def test_failing_receiver_is_retried_until_it_accepts(
    make_emulator: MakeEmulator, session: aiohttp.ClientSession
) -> None:
    async with (
        Receiver(drop_first=1, fail_first=2) as receiver,
        make_emulator(webhook_retry_delays=(0.02, 0.05, 0.1, 0.1)) as emu,
    ):
        gql = GraphQLClient(session, emu)
        secret = await subscribe(gql, receiver.url, [COMPLETED])
        job = await gql.singlecam_job()
        [delivery] = await receiver.wait_for(1)
        assert verify(secret, delivery)["detail"]["event_attributes"]["job"]["id"] == job["id"]
        attempts = receiver.attempts
        assert len(attempts) == 4  # dropped, 500, 500, accepted
        assert {h["svix-id"] for h, _ in attempts} == {delivery[0]["svix-id"]}
        assert {b for _, b in attempts} == {delivery[1]}
        for attempt in attempts:
            verify(secret, attempt)  # every attempt is signed afresh and valid
        await until(lambda: emu.stats.webhook_deliveries == 1)
        assert emu.stats.webhook_attempts == 4


async def test_retries_give_up(make_emulator: MakeEmulator, session: aiohttp.ClientSession) -> None:
    delays = (0.02, 0.02, 0.02)
    async with (
        Receiver(fail_first=100) as receiver,
        make_emulator(webhook_retry_delays=delays) as emu,
    ):
        gql = GraphQLClient(session, emu)
        await subscribe(gql, receiver.url, [COMPLETED])
        await gql.wait_job((await gql.singlecam_job())["id"])
        deadline = time.monotonic() + 5
        while len(receiver.attempts) < len(delays) + 1:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        assert len(receiver.attempts) == len(delays) + 1
        assert emu.stats.webhook_attempts == len(delays) + 1
        assert emu.stats.webhook_deliveries == 0
        assert emu.webhooks.delivered == []


async def test_events_are_sent_in_the_spelling_each_endpoint_subscribed_to(
    make_emulator: MakeEmulator, session: aiohttp.ClientSession
) -> None:
    subscriptions = {
        "short": ["job.state.completed"],
        "both": [COMPLETED, "job.state.completed"],
        "started-short": ["job.state.started", FAILED],
        "everything": [],
    }
    expected = {
        "short": ["job.state.completed"],
        "both": [COMPLETED],
        "started-short": ["job.state.started"],
        "everything": [STARTED, COMPLETED],
    }
    async with (
        Receiver() as r1,
        Receiver() as r2,
        Receiver() as r3,
        Receiver() as r4,
        make_emulator() as emu,
    ):
        receivers = dict(zip(subscriptions, (r1, r2, r3, r4), strict=True))
        gql = GraphQLClient(session, emu)
        secrets = {
            uid: await subscribe(gql, receivers[uid].url, events, uid=uid)
            for uid, events in subscriptions.items()
        }
        job = await gql.singlecam_job()
        names: dict[str, list[str]] = {}
        for uid, receiver in receivers.items():
            deliveries = await receiver.wait_for(len(expected[uid]))
            payloads = [verify(secrets[uid], d) for d in deliveries]
            assert {p["detail"]["event_attributes"]["job"]["id"] for p in payloads} == {job["id"]}
            names[uid] = [p["event_name"] for p in payloads]
        assert names == expected
        # Every delivery task starts (and counts its attempt) before any reaches a receiver:
        # nothing beyond the expected ones was sent.
        assert emu.stats.webhook_attempts == sum(map(len, expected.values()))
