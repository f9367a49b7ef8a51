"""What the client tells about its requests: the `on_request` event, the log line of every
request, `MOVE_UGC_LOG`, and OpenTelemetry spans — each checked against the emulator, and none
of them carrying the API key."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

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
)
from aio_move_ugc.emulator import Emulator, RouteFaults
from aio_move_ugc.observability import LOG_ENV, RequestEvent, log_level_from_env
from aio_move_ugc.otel import span_hook

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
    with pytest.raises(ValueError, match="MOVE_UGC_LOG must be one of info, debug"):
        log_level_from_env({LOG_ENV: "loud"})


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
        assert "ConfigurationError: MOVE_UGC_LOG must be one of info, debug" in done.stderr
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
