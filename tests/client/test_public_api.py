"""The public surface: what `aio_move_ugc` exports, and that it keeps the sync SDK's vocabulary."""

from __future__ import annotations

import importlib
import inspect
import warnings
from importlib.resources import files

import pytest

import aio_move_ugc
from aio_move_ugc import AsyncMoveUgc, MoveUgcError

PUBLIC = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AdditionalFile",
    "ApiTransport",
    "AreaType",
    "AsyncMoveUgc",
    "AsyncPager",
    "AuthenticationError",
    "BackendError",
    "BadRequestError",
    "BulkItem",
    "BulkResult",
    "CameraSettings",
    "Client",
    "ClientClosedError",
    "ClipWindow",
    "ConfigurationError",
    "DiskError",
    "File",
    "GraphQLResponseError",
    "HumanVolume",
    "IntegrityError",
    "InternalServerError",
    "InvalidInputError",
    "Job",
    "JobEvent",
    "JobFailed",
    "JobFailedError",
    "JobFinished",
    "JobNotFound",
    "JobNotFoundError",
    "JobOptions",
    "JobProgress",
    "JobProgressed",
    "JobState",
    "JobStateChanged",
    "MoveUgcError",
    "NotFoundError",
    "OutcomeUnknownError",
    "OutputLabel",
    "OutputMissingError",
    "OutputType",
    "OutputsNotReadyError",
    "OutputsReady",
    "Page",
    "PollPolicy",
    "RateBudget",
    "RateLimitError",
    "RawAnswer",
    "RequestBudget",
    "RetryPolicy",
    "Rig",
    "ShareCode",
    "SortDirection",
    "Source",
    "SourceFormat",
    "SourceIn",
    "StorageConnectionError",
    "StorageError",
    "SyncMethodIn",
    "Take",
    "Timeout",
    "TransferConfig",
    "URLExpiredError",
    "UnexpectedResponseError",
    "ValidationError",
    "VolumeFailedError",
    "VolumeNotFoundError",
    "VolumeStateChanged",
    "WatchTimeoutError",
    "WebhookEndpoint",
    "WebhookReceiver",
    "WebhookVerificationError",
    "__version__",
    "verify_webhook",
]

SYNC_SERVICES = {
    "files": "file.FileService",
    "takes": "take.TakeService",
    "jobs": "job.JobService",
    "volumes": "volume.VolumeService",
    "client": "client.ClientService",
    "webhooks": "webhooks.WebhookService",
    "rigs": "rig.RigService",
    "camera_settings": "camera_settings.CameraSettingsService",
}
"""Our resource attribute -> the sync SDK's service class (under `move_ugc.services`)."""
NOT_CARRIED_OVER = {("volumes", "list", "take_id")}
"""The sync SDK's `volumes.list(take_id=)` sends a variable its query never declares."""


def test_all_is_pinned() -> None:
    assert aio_move_ugc.__all__ == PUBLIC


def test_all_is_sorted_and_importable() -> None:
    assert sorted(aio_move_ugc.__all__) == aio_move_ugc.__all__
    for name in aio_move_ugc.__all__:
        assert getattr(aio_move_ugc, name) is not None


def test_every_error_is_exported_under_one_root() -> None:
    defined = {
        name
        for name, obj in vars(aio_move_ugc._exceptions).items()
        if inspect.isclass(obj) and issubclass(obj, BaseException)
    }
    exported = {name for name in PUBLIC if name.endswith("Error")}
    assert defined == exported
    assert all(issubclass(getattr(aio_move_ugc, name), MoveUgcError) for name in exported)


def test_package_is_typed() -> None:
    assert files("aio_move_ugc").joinpath("py.typed").is_file()


@pytest.mark.parametrize("resource", sorted(SYNC_SERVICES))
def test_resources_keep_the_sync_sdk_methods_and_arguments(resource: str) -> None:
    module, _, cls_name = SYNC_SERVICES[resource].partition(".")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the sync SDK still uses pydantic v1 idioms
        sync_cls = getattr(importlib.import_module(f"move_ugc.services.{module}"), cls_name)
        base = importlib.import_module("move_ugc.services.base").BaseService
    ours_cls = type(getattr(AsyncMoveUgc("k" * 20, endpoint_url="http://127.0.0.1:9/"), resource))
    sync_methods = {
        name: fn
        for name, fn in vars(sync_cls).items()
        if inspect.isfunction(fn) and not name.startswith("_") and not hasattr(base, name)
    }
    assert sync_methods
    for name, sync_fn in sync_methods.items():
        method = getattr(ours_cls, name, None)
        assert method is not None, f"{resource}.{name} is missing"
        ours_params = inspect.signature(method).parameters
        for param in list(inspect.signature(sync_fn).parameters)[1:]:
            if (resource, name, param) in NOT_CARRIED_OVER:
                continue
            assert param in ours_params, f"{resource}.{name} lacks {param}="
        if name != "list":
            assert inspect.iscoroutinefunction(method), f"{resource}.{name} must be awaited"
