"""The bulk journal: typed, versioned JSON-lines records of every step, locked for one run.

A journal starts with a header naming the service (endpoint) and the account (a fingerprint of
the API key, never the key) it was written against; every other line is a `Record` of one
step of one input. Replayed on open:

- every line is parsed and validated (pydantic); a line that is torn (a crash mid-write),
  undecodable or invalid is skipped and counted, and a warning says how many: never a crash;
- every append starts on a fresh line, whatever the file ended with;
- a journal written against another endpoint or key is refused (`JournalMismatchError`);
- one run at a time: an OS lock (`fcntl.flock`) on `<journal>.lock` is held for the run, and a
  second run — another process or the same program — is refused at once with
  `JournalLockedError`, which names the holder (pid and host).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import anyio
from pydantic import BaseModel, ConfigDict, ValidationError

from ._exceptions import MoveUgcError

log = logging.getLogger("aio_move_ugc.bulk")

JOURNAL_VERSION: Literal[1] = 1
"""The version of the records this SDK writes; a journal of another version is refused."""
LOCK_SUFFIX = ".lock"


class JournalError(MoveUgcError):
    """The journal cannot be used for this run."""


class JournalLockedError(JournalError):
    """Another run holds the journal.

    Args:
        path: the journal.
        pid: the process that holds it (None when it did not say).
        host: the machine it runs on (None when it did not say).
    """

    def __init__(self, path: Path, pid: int | None, host: str | None) -> None:
        holder = f"process {pid} on {host}" if pid is not None else "another process"
        super().__init__(
            f"{path} is in use by another run ({holder}); wait for it to end, or give this "
            "run another journal"
        )
        self.path = path
        self.pid = pid
        self.host = host


class JournalMismatchError(JournalError):
    """The journal was written against another service or account, or by another version."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Header(_Strict):
    """The first line: who the journal's records are true for."""

    journal: Literal["aio_move_ugc.bulk"] = "aio_move_ugc.bulk"
    v: Literal[1] = JOURNAL_VERSION
    endpoint: str
    account: str
    """A one-way fingerprint of the API key (`_redact.key_fingerprint`), never the key."""


class SourceStat(_Strict):
    """What a file looked like when it was hashed. The inode and ctime change with every write
    and every copy (`cp -p` and `rsync -t` keep the size and mtime, not these)."""

    path: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, path: Path, info: os.stat_result) -> SourceStat:
        return cls(
            path=str(path),
            size=info.st_size,
            mtime_ns=info.st_mtime_ns,
            ctime_ns=info.st_ctime_ns,
            inode=info.st_ino,
            device=info.st_dev,
        )


class Entry(_Strict):
    """What the journal knows of one input: the fields of its records, merged in order."""

    source: SourceStat | None = None
    content: str | None = None
    """SHA-256 of the video's bytes (the identity is made of it and of the outputs)."""
    md5: str | None = None
    uploading: str | None = None
    """The file record an upload is sending bytes to (before any byte goes out)."""
    file_id: str | None = None
    path: str | None = None
    creating_take: float | None = None
    """Intent: a take create is on its way (epoch seconds); cleared once its id is known."""
    take_id: str | None = None
    creating_job: float | None = None
    job_id: str | None = None
    failed_jobs: list[str] | None = None
    downloaded: dict[str, str] | None = None
    failed: str | None = None
    job_failed: bool | None = None


class Record(Entry):
    """One step of one input. Only the fields set are written; on replay, each record's fields
    replace the input's earlier values (an explicit null clears one)."""

    v: Literal[1] = JOURNAL_VERSION
    key: str
    at: float


def _holder(lock_path: Path) -> tuple[int | None, str | None]:
    try:
        raw = json.loads(lock_path.read_text(encoding="utf-8"))
        return int(raw["pid"]), str(raw["host"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, None


class Journal:
    """Append-only typed records, replayed on open, locked for the run.

    Records are written and fsynced in a worker thread: the event loop never waits on the disk.
    `before_write(n)`, when given, is called just before the n-th record of this run is written
    (tests stop the process there, as a power cut would).
    """

    def __init__(
        self,
        path: Path,
        *,
        endpoint: str,
        account: str,
        before_write: Callable[[int], object] | None = None,
    ) -> None:
        self.path = path
        self.state: dict[str, Entry] = {}
        self.skipped = 0
        """Lines that were not records (torn, undecodable or invalid), skipped on open."""
        self.identities: dict[SourceStat, tuple[str, str | None]] = {}
        """Digests (SHA-256, MD5) of files hashed before, by what the file looked like."""
        self._before_write = before_write
        self._written = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = self._lock(path.with_name(path.name + LOCK_SUFFIX))
        try:
            header = Header(endpoint=endpoint, account=account)
            self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            self._replay(header)
        except BaseException:
            self.close()
            raise

    def _lock(self, lock_path: Path) -> int:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalLockedError(self.path, *_holder(lock_path)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode(), 0)
        return fd

    def _replay(self, header: Header) -> None:
        with open(self.path, "rb") as handle:
            data = handle.read()
        lines = data.split(b"\n")
        first = next((i for i, line in enumerate(lines) if line.strip()), None)
        if first is None:
            self._write(header.model_dump_json().encode() + b"\n", counted=False)
            return
        self._check_header(lines[first], header)
        for line in lines[first + 1 :]:
            if not line.strip():
                continue
            try:
                record = Record.model_validate_json(line)
            except ValidationError:
                self.skipped += 1
                continue
            self._merge(record)
        if self.skipped:
            log.warning(
                "%s: skipped %d lines that are not records (torn by a crash or damaged)",
                self.path,
                self.skipped,
            )
        if not data.endswith(b"\n"):
            self._write(b"\n", counted=False)  # the next record starts on a line of its own

    def _check_header(self, line: bytes, expected: Header) -> None:
        try:
            found = Header.model_validate_json(line)
        except ValidationError:
            raise JournalMismatchError(
                f"{self.path} is not a journal this version of aio_move_ugc wrote; finish its "
                "run with the version that wrote it, or remove it to start afresh"
            ) from None
        if found.endpoint != expected.endpoint:
            raise JournalMismatchError(
                f"{self.path} was written against {found.endpoint}, not {expected.endpoint}; "
                "use the endpoint it was written for, or give this run another journal"
            )
        if found.account != expected.account:
            raise JournalMismatchError(
                f"{self.path} was written with another API key (account {found.account}); "
                "use that key, or give this run another journal"
            )

    def _merge(self, record: Record) -> None:
        fields = record.model_dump(exclude_unset=True, exclude={"v", "key", "at"})
        entry = self.state.get(record.key)
        merged = {**(entry.model_dump(exclude_unset=True) if entry else {}), **fields}
        self.state[record.key] = Entry.model_validate(merged)
        if record.source is not None and record.content is not None:
            self.identities[record.source] = (record.content, record.md5)

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        endpoint: str,
        account: str,
        before_write: Callable[[int], object] | None = None,
    ) -> Journal:
        """Lock and read (a possibly long) journal without holding up the event loop."""
        return await anyio.to_thread.run_sync(
            lambda: cls(path, endpoint=endpoint, account=account, before_write=before_write)
        )

    def get(self, key: str) -> Entry:
        return self.state.get(key) or Entry()

    async def record(self, key: str, **fields: Any) -> None:
        """Write one record and make it durable before the next step starts."""
        record = Record.model_validate(
            {"v": JOURNAL_VERSION, "key": key, "at": time.time(), **fields}
        )
        self._merge(record)
        line = record.model_dump_json(exclude_unset=True).encode() + b"\n"
        await anyio.to_thread.run_sync(self._write, line)

    def _write(self, line: bytes, counted: bool = True) -> None:
        # One write() per record: O_APPEND keeps records from concurrent threads whole.
        if counted:
            self._written += 1
            if self._before_write is not None:
                self._before_write(self._written)
        os.write(self._fd, line)
        os.fsync(self._fd)

    def close(self) -> None:
        """Release the journal (and its lock)."""
        for name in ("_fd", "_lock_fd"):
            fd = getattr(self, name, None)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, name, None)
