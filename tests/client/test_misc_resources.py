"""`ugc.client`, `ugc.webhooks`, `ugc.rigs`, `ugc.camera_settings`, with every error path."""

from __future__ import annotations

import pytest

from aio_move_ugc import (
    AsyncMoveUgc,
    BadRequestError,
    CameraSettings,
    Client,
    Rig,
    WebhookEndpoint,
)
from aio_move_ugc.emulator import Emulator

from . import _paths as paths
from ._paths import Case

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _check_client(emu: Emulator, ctx: object, client: Client) -> None:
    assert client.id == emu.state.client.id
    assert client.name == emu.config.client_name
    assert client.portal is not None
    assert client.portal.endswith(client.id)
    assert client.created is not None
    assert client.created.tzinfo is not None


def _check_client_update(emu: Emulator, ctx: object, client: Client) -> None:
    assert client.metadata == {"team": "mocap", "seats": 3}
    assert emu.state.client.metadata == '{"team":"mocap","seats":3}'


def _check_webhook(emu: Emulator, ctx: object, endpoint: WebhookEndpoint) -> None:
    assert (endpoint.uid, endpoint.url) == ("hook-1", "https://example.com/hooks")
    assert endpoint.events == ["ugc.job.state.completed", "ugc.job.state.failed"]
    assert emu.state.webhooks["hook-1"].secret == SECRET
    if emu.stats.operations["UpsertWebhookEndpoint"] == 1:
        assert endpoint.secret == SECRET, "the secret is shown when the endpoint is created"
    else:
        assert endpoint.secret is None, "a repeated upsert updates, and shows no secret"
    assert endpoint.metadata == {"env": "test"}
    assert emu.state.webhooks["hook-1"].description == "ci"


def _check_rigs(emu: Emulator, ctx: object, rigs: list[Rig]) -> None:
    assert all(isinstance(rig, Rig) for rig in rigs)
    assert rigs[0].name == "move_mo", "the default rig comes first"
    assert len(rigs) == 5


def _check_lenses(emu: Emulator, ctx: object, lenses: list[CameraSettings]) -> None:
    assert all(isinstance(lens, CameraSettings) for lens in lenses)
    assert "goprohero10-2-7k" in [lens.lens for lens in lenses]


CASES = [
    Case("client.retrieve", "GetClient", lambda ugc, _: ugc.client.retrieve(), check=_check_client),
    Case(
        "client.update",
        "UpdateClient",
        lambda ugc, _: ugc.client.update(metadata={"team": "mocap", "seats": 3}),
        check=_check_client_update,
    ),
    Case(
        "webhooks.upsert",
        "UpsertWebhookEndpoint",
        lambda ugc, _: ugc.webhooks.upsert(
            ["ugc.job.state.completed", "ugc.job.state.failed"],
            uid="hook-1",
            url="https://example.com/hooks",
            description="ci",
            secret=SECRET,
            metadata={"env": "test"},
        ),
        check=_check_webhook,
    ),
    Case("rigs.list", "ListRigs", lambda ugc, _: ugc.rigs.list(), check=_check_rigs),
    Case(
        "camera_settings.list",
        "ListCameraSettings",
        lambda ugc, _: ugc.camera_settings.list(),
        check=_check_lenses,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_succeeds(case: Case, emu: Emulator, ugc: AsyncMoveUgc) -> None:
    await paths.succeeds(case, emu, ugc)


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_wrong_key_is_refused(
    case: Case, emu: Emulator, ugc: AsyncMoveUgc, wrong_key: AsyncMoveUgc
) -> None:
    await paths.unauthorized(case, emu, ugc, wrong_key)


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_rejected_document_is_a_validation_error(
    case: Case, emu: Emulator, ugc: AsyncMoveUgc
) -> None:
    await paths.rejected_document(case, emu, ugc)


@pytest.mark.parametrize("kind", ["429", "503"])
@pytest.mark.parametrize("case", CASES, ids=str)
async def test_retried_after_refusal(
    case: Case, kind: str, emu: Emulator, ugc: AsyncMoveUgc
) -> None:
    await paths.succeeds_after_fault(case, emu, ugc, kind)


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_connection_cut_after_send(case: Case, emu: Emulator, ugc: AsyncMoveUgc) -> None:
    await paths.connection_cut(case, emu, ugc)


async def test_webhook_secret_is_only_returned_on_creation(
    emu: Emulator, ugc: AsyncMoveUgc
) -> None:
    created = await ugc.webhooks.upsert(["ugc.job.state.completed"], uid="h", url="http://a.test/")
    assert created.secret is not None
    assert created.secret.startswith("whsec_")
    assert created.secret not in repr(created)
    updated = await ugc.webhooks.upsert(
        ["ugc.job.state.failed"], uid="h", url="http://b.test/", description="moved"
    )
    assert updated.secret is None
    assert (updated.url, updated.events) == ("http://b.test/", ["ugc.job.state.failed"])
    assert emu.state.webhooks["h"].secret == created.secret


async def test_client_update_replaces_metadata(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    await ugc.client.update(metadata={"a": 1})
    again = await ugc.client.update(metadata=["b"])
    assert again.metadata == ["b"]
    assert (await ugc.client.retrieve()).metadata == ["b"]


async def test_webhook_refused_by_the_service(emu: Emulator, ugc: AsyncMoveUgc) -> None:
    # The client checks the URL's shape; the service has rules of its own (here: the scheme
    # check runs server side too). Send through the transport to reach them.
    from aio_move_ugc._schema.operations import operation

    variables = {"uid": "h", "url": "ftp://files.test/", "events": ["x"]}
    with pytest.raises(BadRequestError, match="http"):
        await ugc._ctx.execute(operation("UpsertWebhookEndpoint"), variables)
    assert emu.state.webhooks == {}
