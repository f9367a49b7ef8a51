"""The hostile world around the service (`Hostility`): Retry-After forms, data-source errors,
partial answers, pages as DynamoDB gives them, messages that quote secrets, ETags that are no
digest and proxies that compress. One seeded generator draws every fate, so a seed replays."""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import zlib
from email.utils import formatdate
from typing import Any

from ._config import BACKEND_FAULT_TYPES, BACKEND_THROTTLE_TYPES, Hostility
from ._faults import Clock

try:  # br only when the brotli package is there to make it
    import brotli  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the environment
    brotli = None

LIST_ROOTS = frozenset({"listJobs", "listTakes", "listVolumes"})
"""Root fields answered as pages (`items`, `after`)."""
RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses a client is expected to try again after: each carries a Retry-After."""


def available_codings() -> tuple[str, ...]:
    """The codings the proxy can produce here."""
    return ("gzip", "deflate", "br") if brotli is not None else ("gzip", "deflate")


def compress(data: bytes, coding: str) -> bytes:
    if coding == "gzip":
        return gzip.compress(data, mtime=0)
    if coding == "deflate":
        return zlib.compress(data)
    assert brotli is not None
    result: bytes = brotli.compress(data)
    return result


def accepted(header: str | None) -> list[str]:
    """The codings an `Accept-Encoding` header allows (q=0 excluded), in its order."""
    codings: list[str] = []
    for item in (header or "").split(","):
        name, _, params = item.strip().partition(";")
        name = name.strip().lower()
        if not name:
            continue
        q = params.strip().removeprefix("q=")
        if params and q.replace(".", "", 1).isdigit() and float(q) == 0:
            continue
        codings.append(name)
    return codings


class Hostile:
    """Draws and applies the fates `Hostility` describes."""

    def __init__(self, config: Hostility, seed: int, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.rng = random.Random(seed * 7_919 + 104_729)
        self.replaced: set[str] = set()
        self.counts: dict[str, int] = {}

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def draw(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate

    # ------------------------------------------------------------ Retry-After
    def retry_after(self, seconds: float | None = None) -> dict[str, str]:
        """Headers saying when to come back, in the configured form."""
        wait = self.config.retry_after_seconds if seconds is None else seconds
        form = self.config.retry_after
        if form == "mixed":
            form = self.rng.choice(("seconds", "http_date"))
        if form == "none":
            return {}
        whole = int(wait + 0.999)
        if form == "seconds":
            return {"Retry-After": str(whole)}
        now = self.clock.now()
        return {
            "Retry-After": formatdate(now + whole, usegmt=True),
            "Date": formatdate(now, usegmt=True),
        }

    # ------------------------------------------------------------ secrets
    def echo(self, message: str, *, key: str | None = None, url: str | None = None) -> str:
        """`message`, now and then quoting the request's key or URL in the middle of it."""
        if not self.draw(self.config.echo_secrets_rate):
            return message
        secret = url if url and (key is None or self.rng.random() < 0.5) else key
        if not secret:
            return message
        self._count("echo")
        head, sep, tail = message.partition(" ")
        return f"{head} (request {secret} refused){sep}{tail}"

    # ------------------------------------------------------------ GraphQL answers
    def backend_error(self, key: str | None) -> dict[str, Any] | None:
        """A data source's error answering the whole request, or None."""
        if not self.draw(self.config.backend_error_rate):
            return None
        error_type = self.rng.choice(BACKEND_THROTTLE_TYPES + BACKEND_FAULT_TYPES)
        self._count(f"backend {error_type}")
        message = self.echo(f"{error_type.split(':')[1]} while resolving the request", key=key)
        return {
            "data": None,
            "errors": [
                {
                    "path": None,
                    "data": None,
                    "errorType": error_type,
                    "errorInfo": None,
                    "locations": [],
                    "message": message,
                }
            ],
        }

    def partial(self, payload: dict[str, Any], key: str | None) -> dict[str, Any]:
        """A clean query answer, now and then with one field of its root record failed."""
        data = payload.get("data")
        if payload.get("errors") or not isinstance(data, dict) or not data:
            return payload
        if not self.draw(self.config.partial_error_rate):
            return payload
        root = next(iter(data))
        if root.startswith("__"):  # introspection: cached answers, never faulted
            return payload
        record = data[root]
        path: list[Any] = [root]
        if isinstance(record, dict):
            field = next((f for f in ("outputs", "items", "metadata") if f in record), None)
            if field is not None:
                record[field] = None
                path.append(field)
        error_type = self.rng.choice(BACKEND_FAULT_TYPES)
        self._count("partial")
        message = self.echo(f"Resolver of {'.'.join(map(str, path))} failed", key=key)
        return payload | {
            "errors": [
                {
                    "path": path,
                    "data": None,
                    "errorType": error_type,
                    "errorInfo": None,
                    "locations": [],
                    "message": message,
                }
            ]
        }

    def pages(self, payload: dict[str, Any], variables: dict[str, Any] | None) -> dict[str, Any]:
        """List answers as DynamoDB behind AppSync may give them: empty pages whose cursor goes
        on, cursors that repeat, cursors of another JSON type."""
        data = payload.get("data")
        if payload.get("errors") or not isinstance(data, dict):
            return payload
        asked = (variables or {}).get("after")
        for root in LIST_ROOTS & data.keys():
            page = data[root]
            if not isinstance(page, dict):
                continue
            config = self.config
            if self.draw(config.empty_page_rate):
                self._count("empty page")
                page["items"] = []
                page["after"] = json.dumps({"resume": asked})
            elif asked is not None and page.get("after") and self.draw(config.repeat_cursor_rate):
                self._count("repeated cursor")
                page["after"] = asked
            if page.get("after") is not None and self.draw(config.odd_cursor_rate):
                self._count("odd cursor")
                page["after"] = self.rng.choice(
                    (12345, 3.5, True, {"token": page["after"]}, [page["after"]])
                )
        return payload

    # ------------------------------------------------------------ storage
    def served_etag(self, etag: str) -> str:
        """The ETag storage gives for an object whose MD5 ETag is `etag`."""
        style = self.config.etag_style
        if style == "md5":
            return etag
        digest = hashlib.sha256(etag.encode()).hexdigest()
        if style == "multipart":
            return f'"{digest[:32]}-3"'
        return f'"v1.{digest[:20]}"'

    def replace_now(self, key: str, start: int) -> bool:
        """Whether the object is replaced before this ranged GET is served."""
        if start == 0 or key in self.replaced or not self.draw(self.config.replace_rate):
            return False
        self.replaced.add(key)
        self._count("replaced")
        return True

    def coding_for(self, accept_encoding: str | None) -> str | None:
        """The coding the proxy compresses this GET's body with, or None."""
        mode = self.config.proxy_encoding
        if mode == "none":
            return None
        codings = available_codings()
        if mode == "forced":
            return self.rng.choice(codings)
        allowed = accepted(accept_encoding)
        if "*" in allowed:
            return codings[0]
        return next((c for c in allowed if c in codings), None)


def new_version(data: bytes) -> bytes:
    """Other bytes of the same length: the object as a later upload left it."""
    head = bytes(b ^ 0x5A for b in data[:64])
    return head + data[64:]
