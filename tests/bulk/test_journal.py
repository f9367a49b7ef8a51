"""The bulk journal's rules: typed records, damaged lines skipped and counted, a fresh line
for every append, one run at a time (an OS lock naming its holder), refused when written
against another service or account, and identities never trusted across a copy."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aio_move_ugc import AsyncMoveUgc
from aio_move_ugc._journal import Journal
from aio_move_ugc.bulk import (
    JOURNAL_NAME,
    BulkResult,
    JournalLockedError,
    JournalMismatchError,
)
from aio_move_ugc.emulator import Emulator
from tests.bulk.test_bulk import make_videos

ENDPOINT = "http://127.0.0.1:1/graphql"
ACCOUNT = "0123456789abcdef"

BAD_LINES = [
    b'{"v": 1, "key": "k", "at": 1.0, "take_id": "tak',  # torn mid-write
    b"\xff\xfe\x00garbage",  # undecodable
    b"[1, 2, 3]",  # JSON, not a record
    b'{"v": 2, "key": "k", "at": 1.0}',  # another version
    b'{"v": 1, "key": "k", "at": "yesterday"}',  # a field of the wrong type
    b'{"v": 1, "key": "k", "at": 1.0, "surprise": true}',  # a field no version writes
    b'{"v": 1, "at": 1.0, "take_id": "take-1"}',  # no key
]


def _journal(path: Path, **kwargs: str) -> Journal:
    return Journal(
        path, endpoint=kwargs.get("endpoint", ENDPOINT), account=kwargs.get("account", ACCOUNT)
    )


async def _write(path: Path, key: str, **fields: object) -> None:
    journal = _journal(path)
    try:
        await journal.record(key, **fields)
    finally:
        journal.close()


@given(
    bad=st.lists(st.sampled_from(BAD_LINES) | st.binary(max_size=40).map(b"\xff".__add__)),
    tail=st.sampled_from([b"", b"\n", b'{"v": 1, "key": "k"']),
)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_damaged_lines_are_skipped_counted_and_never_glue_to_a_new_record(
    tmp_path_factory: pytest.TempPathFactory, bad: list[bytes], tail: bytes
) -> None:
    path = tmp_path_factory.mktemp("j") / JOURNAL_NAME
    asyncio.run(_write(path, "k", take_id="take-1"))
    with open(path, "ab") as handle:
        for line in bad:
            handle.write(line.replace(b"\n", b" ") + b"\n")
        handle.write(tail)  # whatever the file ended with: a torn record, or nothing
    torn = 1 if tail.strip() else 0
    journal = _journal(path)
    try:
        assert journal.skipped == len(bad) + torn
        assert journal.get("k").take_id == "take-1"
        asyncio.run(journal.record("k", job_id="job-1"))
    finally:
        journal.close()
    again = _journal(path)
    try:
        assert again.get("k").job_id == "job-1"  # the new record is whole, on its own line
        assert again.get("k").take_id == "take-1"
        assert again.skipped == len(bad) + torn
    finally:
        again.close()


@pytest.mark.parametrize("line", BAD_LINES)
def test_each_kind_of_damage_is_counted_and_said(
    tmp_path: Path, line: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / JOURNAL_NAME
    asyncio.run(_write(path, "k", take_id="take-1"))
    with open(path, "ab") as handle:
        handle.write(line + b"\n")
    with caplog.at_level(logging.WARNING, logger="aio_move_ugc.bulk"):
        journal = _journal(path)
    journal.close()
    assert journal.skipped == 1
    assert journal.get("k").take_id == "take-1"
    assert any("skipped 1 lines" in r.getMessage() for r in caplog.records)


def test_a_second_open_in_the_same_process_is_refused_naming_the_holder(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    first = _journal(path)
    try:
        with pytest.raises(JournalLockedError) as caught:
            _journal(path)
        assert caught.value.pid == os.getpid()
        assert caught.value.host == socket.gethostname()
        assert str(os.getpid()) in str(caught.value)
    finally:
        first.close()
    _journal(path).close()  # released with the run


async def test_another_process_holding_the_journal_is_named(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from pathlib import Path; from aio_move_ugc._journal import Journal;"
        f"j = Journal(Path(sys.argv[1]), endpoint={ENDPOINT!r}, account={ACCOUNT!r});"
        "print('held', flush=True); sys.stdin.read()",
        str(path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert holder.stdout is not None
    assert holder.stdin is not None
    assert await holder.stdout.readline() == b"held\n"
    try:
        with pytest.raises(JournalLockedError) as caught:
            _journal(path)
        assert caught.value.pid == holder.pid
    finally:
        holder.stdin.close()
        await holder.wait()
    _journal(path).close()  # a lock dies with its process


async def test_a_second_bulk_run_on_the_same_journal_is_refused_at_once(
    emulator: Emulator, tmp_path: Path
) -> None:
    videos = make_videos(tmp_path / "videos", 2)
    dest = tmp_path / "out"
    async with AsyncMoveUgc(emulator.api_key, endpoint_url=emulator.endpoint_url) as ugc:
        first = ugc.bulk.run(videos, dest=dest, interval=0.1)
        got: BulkResult = await anext(first)  # the first run is under way, holding the lock
        with pytest.raises(JournalLockedError):
            async for _ in ugc.bulk.run(videos, dest=dest, interval=0.1):
                pass
        rest = [r async for r in first]
    assert all(r.ok for r in [got, *rest])


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"endpoint": "http://elsewhere/graphql"}, "written against"),
        ({"account": "f" * 16}, "another API key"),
    ],
)
def test_a_journal_of_another_service_or_account_is_refused(
    tmp_path: Path, change: dict[str, str], says: str
) -> None:
    path = tmp_path / JOURNAL_NAME
    asyncio.run(_write(path, "k", take_id="take-1"))
    with pytest.raises(JournalMismatchError) as caught:
        _journal(path, **change)
    assert says in str(caught.value)
    assert "another journal" in str(caught.value)  # the way forward


def test_an_untyped_journal_of_an_older_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    path.write_text(json.dumps({"key": "k", "take_id": "take-1"}) + "\n")
    with pytest.raises(JournalMismatchError, match="remove it"):
        _journal(path)


async def test_the_key_is_never_written_only_its_fingerprint(
    emulator: Emulator, tmp_path: Path
) -> None:
    (video,) = make_videos(tmp_path / "videos", 1)
    dest = tmp_path / "out"
    async with AsyncMoveUgc(emulator.api_key, endpoint_url=emulator.endpoint_url) as ugc:
        assert all([r.ok async for r in ugc.bulk.run([video], dest=dest, interval=0.1)])
    async with AsyncMoveUgc("another-key-" + "x" * 20, endpoint_url=emulator.endpoint_url) as ugc:
        with pytest.raises(JournalMismatchError):
            async for _ in ugc.bulk.run([video], dest=dest, interval=0.1):
                pass
    text = (dest / JOURNAL_NAME).read_text()
    assert emulator.api_key not in text
    assert json.loads(text.splitlines()[0])["endpoint"] == emulator.endpoint_url


@pytest.mark.parametrize("how", ["copy_keeping_times", "rewrite_in_place"])
async def test_identity_is_not_trusted_across_a_copy_that_keeps_size_and_mtime(
    emulator: Emulator, tmp_path: Path, how: str
) -> None:
    first, other = make_videos(tmp_path / "videos", 2)
    dest = tmp_path / "out"
    async with AsyncMoveUgc(emulator.api_key, endpoint_url=emulator.endpoint_url) as ugc:
        (before,) = [r async for r in ugc.bulk.run([first], dest=dest, interval=0.1)]
        info = first.stat()
        if how == "copy_keeping_times":  # cp -p: another inode, the same size and mtime
            staged = first.with_suffix(".tmp")
            shutil.copy2(other, staged)
            os.replace(staged, first)
        else:  # the same inode, other bytes of the same size
            first.write_bytes(other.read_bytes())
        os.utime(first, ns=(info.st_atime_ns, info.st_mtime_ns))
        assert first.stat().st_size == info.st_size
        assert first.stat().st_mtime_ns == info.st_mtime_ns
        (after,) = [r async for r in ugc.bulk.run([first], dest=dest, interval=0.1)]
    assert before.ok
    assert after.ok
    assert after.key != before.key  # read again: the new bytes are another input
    assert not after.skipped
    assert len(emulator.state.jobs) == 2
