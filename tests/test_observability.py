"""What the client tells about its requests and transfers: the `on_request` and `on_transfer`
events, the log line of every request and every transfer, `MOVE_UGC_LOG`, and OpenTelemetry
spans — each checked against the emulator, and none of them carrying the API key, a URL's
signature or token, or a local path."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from aio_move_ugc import (
    APIConnectionError,
    APIStatusError,
    AsyncMoveUgc,
    ConfigurationError,
    NotFoundError,
    RetryPolicy,
    StorageError,
    TransferConfig,
    otel,
)
from aio_move_ugc.emulator import Emulator, RouteFaults
from aio_move_ugc.observability import (
    LOG_ENV,
    RequestEvent,
    TransferEvent,
    log_level_from_env,
)
from aio_move_ugc.otel import span_hook, transfer_span_hook
from tests.support import FAST
from tests.transfers.support import MiB, faults_hitting, random_file

UNKNOWN_JOB = "job-00000000-0000-4000-8000-000000000000"
NO_WAIT = RetryPolicy(max_retries=2, base_delay=0.0, max_delay=0.0)


def client(emu: Emulator, **kwargs: object) -> AsyncMoveUgc:
    return AsyncMoveUgc(emu.api_key, endpoint_url=emu.endpoint_url, **kwargs)  # type: ignore[arg-type]


async def test_every_request_reaches_the_hook_with_its_request_id(emulator: Emulator) -> None:
    events: list[RequestEvent] = []
    async with client(emulator, on_request=events.append) as ugc:
        await ugc.rigs.list()
        with pytest.raises(NotFoundError) as caught:
            await ugc.jobs.retrieve(UNKNOWN_JOB)
    ok, missing = events
    assert (ok.operation, ok.status, ok.attempt, ok.retries, ok.error) == (
        "ListRigs",
        200,
        1,
        0,
        None,
    )
    assert ok.ok
    assert ok.duration >= 0
    assert ok.started_ns > 0
    assert ok.request_id
    assert ok.request_id != missing.request_id
    # The error carries the same request id the hook saw, and says it.
    assert missing.error == "NotFoundError"
    assert missing.status == 200
    assert caught.value.request_id == missing.request_id
    assert f"request_id={missing.request_id}" in str(caught.value)
    assert emulator.api_key not in repr(events)


async def test_each_retry_is_one_event_with_its_try_number(emulator: Emulator) -> None:
    events: list[RequestEvent] = []
    emulator.set_faults("graphql", RouteFaults(rate_500=1.0))
    async with client(emulator, on_request=events.append, retry=NO_WAIT) as ugc:
        with pytest.raises(APIStatusError):
            await ugc.rigs.list()
    assert [e.attempt for e in events] == [1, 2, 3]
    assert {(e.status, e.error) for e in events} == {(500, "APIStatusError")}
    assert all(e.request_id for e in events)


async def test_a_request_that_got_no_answer_has_no_status(emulator: Emulator) -> None:
    events: list[RequestEvent] = []
    emulator.set_faults("graphql", RouteFaults(reset_rate=1.0))
    async with client(emulator, on_request=events.append, max_retries=0) as ugc:
        with pytest.raises(APIConnectionError):
            await ugc.rigs.list()
    (event,) = events
    assert event.status is None
    assert event.request_id is None
    assert event.error == "APIConnectionError"


async def test_a_failing_hook_does_not_fail_the_request(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: RequestEvent) -> None:
        raise RuntimeError("broken hook")

    async with client(emulator, on_request=broken) as ugc:
        assert await ugc.rigs.list()
    assert "on_request hook failed: RuntimeError" in caplog.text


def test_a_hook_that_is_not_callable_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="on_request"):
        AsyncMoveUgc("k" * 20, endpoint_url="http://127.0.0.1:1/graphql", on_request=42)  # type: ignore[arg-type]


async def test_every_request_is_logged_without_the_key(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aio_move_ugc")
    emulator.set_faults("graphql", RouteFaults(rate_503=1.0))
    async with client(emulator, retry=RetryPolicy(max_retries=1, base_delay=0.0)) as ugc:
        with pytest.raises(APIStatusError):
            await ugc.rigs.list()
        emulator.set_faults("graphql", None)
        await ugc.rigs.list()
    lines = [r.getMessage() for r in caplog.records if r.name == "aio_move_ugc.transport"]
    assert len(lines) == 3, lines
    assert lines[0].startswith("ListRigs try 1 -> 503 in ")
    assert lines[1].startswith("ListRigs try 2 -> 503 in ")
    assert "(request id " in lines[0]
    assert "APIStatusError" in lines[0]
    assert lines[2].startswith("ListRigs try 1 -> 200 in ")
    assert lines[2].endswith(")")
    retried = [r.getMessage() for r in caplog.records if r.name == "aio_move_ugc.retry"]
    assert retried
    assert retried[0].startswith("retrying ListRigs after APIStatusError")
    assert emulator.api_key not in caplog.text


def test_the_log_level_variable_is_checked() -> None:
    assert log_level_from_env({}) is None
    assert log_level_from_env({LOG_ENV: ""}) is None
    assert log_level_from_env({LOG_ENV: "INFO"}) == logging.INFO
    assert log_level_from_env({LOG_ENV: "debug"}) == logging.DEBUG
    with pytest.raises(ValueError, match="MOVE_UGC_LOG must be a level"):
        log_level_from_env({LOG_ENV: "loud"})


@pytest.mark.parametrize(
    ("value", "level"),
    [
        *((name, logging.getLevelName(name.upper())) for name in ("debug", "info", "error")),
        *((spelling, logging.WARNING) for spelling in ("warning", "WARN", " Warning ", "30")),
        ("CRITICAL", logging.CRITICAL),
        ("fatal", logging.CRITICAL),
        ("10", logging.DEBUG),
        *((on, logging.INFO) for on in ("1", "true", "TRUE", "yes", "on")),
        *((off, None) for off in ("0", "false", "off", "no", "None", "  ")),
    ],
)
def test_the_log_level_accepts_what_logging_users_type(value: str, level: int | None) -> None:
    assert log_level_from_env({LOG_ENV: value}) == level


@pytest.mark.parametrize("value", ["loud", "2", "15", "info,debug", "-1", "x" * 40])
def test_other_log_levels_are_refused_with_the_accepted_ones(value: str) -> None:
    with pytest.raises(ValueError, match=r"debug, info, warning, error, critical\), 1 or 0"):
        log_level_from_env({LOG_ENV: value})


SCRIPT = textwrap.dedent(
    """
    import asyncio, logging, sys
    import aio_move_ugc
    from aio_move_ugc.emulator import Emulator

    handlers_on_import = len(logging.getLogger("aio_move_ugc").handlers)

    async def main():
        async with Emulator() as emu:
            for _ in range(2):  # a second client installs no second handler
                async with aio_move_ugc.AsyncMoveUgc(
                    emu.api_key, endpoint_url=emu.endpoint_url
                ) as ugc:
                    await ugc.rigs.list()
        print(handlers_on_import, len(logging.getLogger("aio_move_ugc").handlers), emu.api_key)

    asyncio.run(main())
    """
)


def run_script(log: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOVE_UGC_")}
    if log is not None:
        env[LOG_ENV] = log
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("level", [None, "info", "debug", "loud"])
def test_move_ugc_log_logs_requests_to_stderr(level: str | None) -> None:
    done = run_script(level)
    if level == "loud":
        assert done.returncode == 1
        assert "ConfigurationError: MOVE_UGC_LOG must be a level (debug, info," in done.stderr
        return
    assert done.returncode == 0, done.stderr
    on_import, after, key = done.stdout.split()
    assert on_import == "0", "importing the package configures no logging"
    if level is None:
        assert (after, done.stderr) == ("0", "")
        return
    assert after == "1"
    requests = [line for line in done.stderr.splitlines() if "ListRigs try 1 -> 200" in line]
    assert len(requests) == 2, done.stderr
    assert all(" INFO aio_move_ugc.transport: " in line for line in requests)
    assert ("DEBUG" in done.stderr) == (level == "debug")
    assert key not in done.stderr


def test_importing_the_package_leaves_opentelemetry_unloaded() -> None:
    code = (
        "import sys, aio_move_ugc, aio_move_ugc.observability; "
        "print([m for m in sys.modules if m.startswith('opentelemetry')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


async def test_opentelemetry_span_per_request(
    emulator: Emulator, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = spans
    tracer = provider.get_tracer("the application")
    emulator.set_faults("graphql", RouteFaults(rate_503=0.5))
    async with client(emulator, on_request=span_hook(provider), retry=NO_WAIT) as ugc:
        with tracer.start_as_current_span("handler") as parent:
            events: list[str] = []
            for _ in range(4):
                try:
                    await ugc.rigs.list()
                    events.append("ok")
                except Exception as exc:
                    events.append(type(exc).__name__)
        emulator.set_faults("graphql", None)
        with pytest.raises(NotFoundError) as caught:
            await ugc.jobs.retrieve(UNKNOWN_JOB)
    finished = exporter.get_finished_spans()
    requests = [s for s in finished if s.name.startswith("graphql ")]
    assert len(requests) == emulator.stats.graphql_requests
    assert {s.name for s in requests} == {"graphql ListRigs", "graphql GetJob"}
    listed = [s for s in requests if s.name == "graphql ListRigs"]
    assert all(s.kind is SpanKind.CLIENT for s in requests)
    # The spans made inside the application's span are its children.
    assert all(s.parent is not None for s in listed)
    assert {s.parent.span_id for s in listed if s.parent} == {parent.get_span_context().span_id}
    attrs = [dict(s.attributes or {}) for s in listed]
    assert {a["graphql.operation.name"] for a in attrs} == {"ListRigs"}
    statuses = [a["http.response.status_code"] for a in attrs]
    assert set(statuses) <= {200, 503}
    assert 503 in statuses
    assert 200 in statuses
    assert any(a["move_ugc.retries"] >= 1 for a in attrs)  # type: ignore[operator]
    for span, a in zip(listed, attrs, strict=True):
        assert a["move_ugc.retries"] == a["move_ugc.attempt"] - 1  # type: ignore[operator]
        assert a["move_ugc.request_id"]
        assert (span.status.status_code is StatusCode.ERROR) == (a.get("error.type") is not None)
        assert span.end_time is not None
        assert span.start_time is not None
        assert span.end_time >= span.start_time
    (missing,) = [s for s in requests if s.name == "graphql GetJob"]
    assert missing.parent is None
    assert missing.attributes is not None
    assert missing.attributes["move_ugc.request_id"] == caught.value.request_id
    assert missing.attributes["error.type"] == "NotFoundError"
    everything = repr([(s.name, dict(s.attributes or {})) for s in finished])
    assert emulator.api_key not in everything
    assert "http" not in everything.replace("http.response", "")


def test_span_hook_refuses_what_is_not_a_tracer_provider() -> None:
    with pytest.raises(ConfigurationError, match="TracerProvider"):
        span_hook(object())  # type: ignore[arg-type]


# ------------------------------------------------------------------ transfers
PARTS = TransferConfig(
    part_size=MiB, parts_in_flight=2, max_retries=1, retry_base_delay=0.0, retry_max_delay=0.0
)
"""Downloads in ranged parts of 1 MiB; one quick retry of a failed step."""
SIZE = 3 * MiB + 1234
"""Four parts of PARTS, the last one short."""


def transfers_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "aio_move_ugc.transfers"
        and r.getMessage().split()[0] in ("uploaded", "downloaded", "upload", "download")
    ]


async def test_an_upload_and_a_download_each_tell_one_transfer_event(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aio_move_ugc")
    source = await random_file(tmp_path / "clip.mp4", SIZE)
    events: list[TransferEvent] = []
    async with client(emulator, on_transfer=events.append, transfer_config=PARTS) as ugc:
        record = await ugc.files.upload(source)
        (upload,) = events
        await ugc.files.download(record.id, tmp_path / "out" / "copy.mp4")
    up, down = events
    assert up is upload
    assert (up.direction, up.name, up.size, up.transferred, up.resumed) == (
        "upload",
        "clip.mp4",
        SIZE,
        SIZE,
        0,
    )
    assert (up.requests, up.retries, up.url_refreshes, up.status, up.error) == (1, 0, 0, 200, None)
    assert up.ok
    assert up.request_id
    assert up.started_ns > 0
    assert up.duration > 0
    assert up.bytes_per_second > 0
    assert (down.direction, down.name, down.size, down.transferred, down.resumed) == (
        "download",
        "copy.mp4",
        SIZE,
        SIZE,
        0,
    )
    # Four ranged parts, four requests; the last answer was a part's.
    assert (down.requests, down.retries, down.url_refreshes, down.status, down.error) == (
        4,
        0,
        0,
        206,
        None,
    )
    assert down.request_id
    assert down.request_id != up.request_id
    assert down.started_ns >= up.started_ns + int(up.duration * 1e9) - 1_000_000
    # One INFO line per transfer.
    lines = transfers_logged(caplog)
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"uploaded clip.mp4: {SIZE} bytes in ")
    assert lines[0].endswith(" MB/s), 1 request, 0 retries")
    assert lines[1].startswith(f"downloaded copy.mp4: {SIZE} bytes in ")
    assert lines[1].endswith("4 requests, 0 retries")


async def test_a_resumed_download_counts_only_the_bytes_it_fetched(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aio_move_ugc")
    source = await random_file(tmp_path / "clip.mp4", SIZE)
    config = replace(PARTS, parts_in_flight=1)
    events: list[TransferEvent] = []
    dest = tmp_path / "out" / "copy.mp4"
    async with client(emulator, on_transfer=events.append, transfer_config=config) as ugc:
        record = await ugc.files.upload(source)
        events.clear()
        with anyio.CancelScope() as scope:

            def stop_after_two_parts(done: int, total: int) -> None:
                if done >= 2 * MiB:
                    scope.cancel()

            await ugc.files.download(record.id, dest, progress=stop_after_two_parts)
        assert scope.cancelled_caught
        (cancelled,) = events
        assert cancelled.error == "CancelledError"
        assert not cancelled.ok
        assert cancelled.transferred >= 2 * MiB
        assert cancelled.size == SIZE
        on_disk = (dest.parent / "copy.mp4.part").stat().st_size
        assert on_disk == SIZE  # the .part file is allocated whole; the sidecar says what is in it

        await ugc.files.download(record.id, dest)
    resumed = events[-1]
    assert len(events) == 2
    assert resumed.error is None
    assert resumed.resumed >= MiB
    assert resumed.resumed % MiB == 0  # whole parts only
    assert resumed.transferred == SIZE - resumed.resumed
    assert resumed.requests == -(-(SIZE - resumed.resumed) // MiB)
    assert dest.read_bytes() == source.read_bytes()
    lines = transfers_logged(caplog)
    assert lines[-2].startswith("download of copy.mp4 failed (CancelledError): ")
    assert lines[-1].endswith(f"{resumed.resumed} bytes resumed")


def _tampered(url: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["Signature"] = "A" * len(query["Signature"])
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_failed_transfers_tell_their_error_and_last_status(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = await random_file(tmp_path / "clip.mp4", 2000)
    events: list[TransferEvent] = []
    async with client(emulator, on_transfer=events.append, transfer_config=PARTS) as ugc:
        created = await ugc.files.create("mp4")
        assert created.presigned_url is not None
        with pytest.raises(StorageError):
            await ugc.files.upload_to_url(_tampered(created.presigned_url), source)
        record = await ugc.files.upload(source)
        assert record.presigned_url is not None
        with pytest.raises(StorageError):
            await ugc.files.download(_tampered(record.presigned_url), tmp_path / "x.mp4")
    failed_up, _, failed_down = events
    assert (failed_up.direction, failed_up.error, failed_up.status, failed_up.requests) == (
        "upload",
        "StorageError",
        403,
        1,
    )
    assert failed_up.size == 2000
    assert failed_up.retries == 0  # a refused signature is not worth another try
    assert (failed_down.direction, failed_down.error, failed_down.status) == (
        "download",
        "StorageError",
        403,
    )
    assert failed_down.size is None  # refused before the object's size was known
    assert failed_down.transferred == 0
    assert failed_down.request_id


async def test_retries_and_url_refreshes_are_counted(tmp_path: Path) -> None:
    seed, faults = faults_hitting({0}, kind="500", route="storage_put")
    events: list[TransferEvent] = []
    async with Emulator(replace(FAST, seed=seed, url_ttl=60)) as emu:
        emu.set_faults("storage_put", faults)
        source = await random_file(tmp_path / "clip.mp4", SIZE)
        config = replace(PARTS, parts_in_flight=1)
        async with client(emu, on_transfer=events.append, transfer_config=config) as ugc:
            record = await ugc.files.upload(source)
            emu.set_faults("storage_put", None)
            gets_before = emu.stats.storage_count("GET")
            moved: list[bool] = []

            def expire_once(done: int, total: int) -> None:
                if done >= 2 * MiB and not moved:
                    moved.append(True)
                    emu.advance(120)

            await ugc.files.download(record.id, tmp_path / "copy.mp4", progress=expire_once)
            gets = emu.stats.storage_count("GET") - gets_before
    up, down = events
    assert (up.requests, up.retries, up.status, up.error) == (2, 1, 200, None)
    assert up.transferred >= SIZE  # the first try's bytes went out too
    assert down.url_refreshes == 1
    assert down.requests == gets
    assert down.transferred == SIZE
    assert (down.status, down.error) == (206, None)


async def test_two_calls_on_one_destination_are_one_transfer_event(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = await random_file(tmp_path / "clip.mp4", SIZE)
    events: list[TransferEvent] = []
    dest = tmp_path / "out" / "copy.mp4"
    async with client(emulator, on_transfer=events.append, transfer_config=PARTS) as ugc:
        record = await ugc.files.upload(source)
        events.clear()
        first, second = await asyncio.gather(
            ugc.files.download(record.id, dest), ugc.files.download(record.id, dest)
        )
    assert first == second == dest
    (event,) = events
    assert event.transferred == SIZE


async def test_a_failing_transfer_hook_does_not_fail_the_transfer(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: TransferEvent) -> None:
        raise RuntimeError("broken hook")

    source = await random_file(tmp_path / "clip.mp4", 2000)
    async with client(emulator, on_transfer=broken) as ugc:
        record = await ugc.files.upload(source)
        await ugc.files.download(record.id, tmp_path / "copy.mp4")
    assert (tmp_path / "copy.mp4").read_bytes() == source.read_bytes()
    assert caplog.text.count("on_transfer hook failed: RuntimeError") == 2


def test_a_transfer_hook_that_is_not_callable_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="on_transfer"):
        AsyncMoveUgc("k" * 20, endpoint_url="http://127.0.0.1:1/graphql", on_transfer="log")  # type: ignore[arg-type]


async def test_opentelemetry_span_per_transfer(
    emulator: Emulator, tmp_path: Path, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = spans
    source = await random_file(tmp_path / "clip.mp4", SIZE)
    hooks = otel.hooks(provider)
    async with client(emulator, transfer_config=PARTS, **hooks) as ugc:
        record = await ugc.files.upload(source)
        await ugc.files.download(record.id, tmp_path / "copy.mp4")
        assert record.presigned_url is not None
        with pytest.raises(StorageError):
            await ugc.files.download(_tampered(record.presigned_url), tmp_path / "bad.mp4")
    finished = exporter.get_finished_spans()
    requests = [s for s in finished if s.name.startswith("graphql ")]
    assert len(requests) == emulator.stats.graphql_requests
    transfers = [s for s in finished if s.name.startswith("move_ugc.")]
    assert [s.name for s in transfers] == [
        "move_ugc.upload",
        "move_ugc.download",
        "move_ugc.download",
    ]
    up, down, bad = (dict(s.attributes or {}) for s in transfers)
    assert all(s.kind is SpanKind.CLIENT for s in transfers)
    assert up == {
        "move_ugc.transfer.direction": "upload",
        "move_ugc.file.name": "clip.mp4",
        "move_ugc.file.size": SIZE,
        "move_ugc.transfer.bytes": SIZE,
        "move_ugc.transfer.resumed_bytes": 0,
        "move_ugc.transfer.requests": 1,
        "move_ugc.retries": 0,
        "move_ugc.transfer.url_refreshes": 0,
        "http.response.status_code": 200,
        "move_ugc.request_id": up["move_ugc.request_id"],
    }
    assert up["move_ugc.request_id"]
    assert (down["move_ugc.file.name"], down["move_ugc.transfer.bytes"]) == ("copy.mp4", SIZE)
    assert down["move_ugc.transfer.requests"] == 4
    assert down["http.response.status_code"] == 206
    assert "error.type" not in down
    assert transfers[1].status.status_code is StatusCode.UNSET
    assert (bad["error.type"], bad["http.response.status_code"]) == ("StorageError", 403)
    assert "move_ugc.file.size" not in bad
    assert transfers[2].status.status_code is StatusCode.ERROR
    for span in transfers:
        assert span.start_time is not None
        assert span.end_time is not None
        assert span.end_time >= span.start_time


def test_transfer_span_hook_refuses_what_is_not_a_tracer_provider() -> None:
    with pytest.raises(ConfigurationError, match="TracerProvider"):
        transfer_span_hook(object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="TracerProvider"):
        otel.hooks("provider")  # type: ignore[arg-type]


async def test_transfer_events_spans_and_logs_carry_no_secret_and_no_path(
    emulator: Emulator,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    caplog.set_level(logging.DEBUG, logger="aio_move_ugc")
    provider, exporter = spans
    seed, faults = faults_hitting({1}, kind="500", route="storage_get")
    source = await random_file(tmp_path / "clip.mp4", SIZE)
    events: list[TransferEvent] = []
    span_of = transfer_span_hook(provider)

    def both(event: TransferEvent) -> None:
        events.append(event)
        span_of(event)

    urls: list[str] = []
    async with Emulator(replace(FAST, seed=seed)) as emu:
        async with client(emu, on_transfer=both, transfer_config=PARTS) as ugc:
            record = await ugc.files.upload(source)
            assert record.presigned_url is not None
            urls.append(record.presigned_url)
            emu.set_faults("storage_get", faults)
            fetched = await ugc.files.retrieve(record.id)
            assert fetched.presigned_url is not None
            urls.append(fetched.presigned_url)
            await ugc.files.download(fetched.presigned_url, tmp_path / "out" / "copy.mp4")
            with pytest.raises(StorageError):
                await ugc.files.download(_tampered(fetched.presigned_url), tmp_path / "x.mp4")
        key = emu.api_key
    assert [e.direction for e in events] == ["upload", "download", "download"]
    assert events[1].retries == 1
    secrets = ["X-Amz-Signature", "Signature=", "x-amz-security-token", key, str(tmp_path)]
    for url in urls:
        parts = urlsplit(url)
        secrets += [parts.query, parts.netloc + parts.path]
        secrets += [value for _, value in parse_qsl(parts.query) if len(value) >= 8]
    told = "\n".join(
        [
            repr(events),
            *(e.summary() for e in events),
            repr([(s.name, dict(s.attributes or {})) for s in exporter.get_finished_spans()]),
            caplog.text,
        ]
    )
    for secret in secrets:
        assert secret not in told, secret
