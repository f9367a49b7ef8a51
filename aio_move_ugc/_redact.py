"""Keeping secrets out of what we print, log and raise: presigned URLs lose their query."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """A presigned URL without its query (which holds the signature and the token)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "<unparseable url>"
    host = parts.hostname or ""
    if port:
        host = f"{host}:{port}"
    return urlunsplit((parts.scheme, host, parts.path, "<redacted>" if parts.query else "", ""))


def scrub(value: Any, depth: int = 0) -> Any:
    """`value` (an API answer) with every URL's query redacted, to keep on an error."""
    if depth > 64:
        return None
    if isinstance(value, str):
        if value.startswith(("http://", "https://")) and "?" in value:
            return redact_url(value)
        return value
    if isinstance(value, dict):
        return {k: scrub(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, depth + 1) for v in value]
    return value


def key_fingerprint(api_key: str) -> str:
    """A short, one-way fingerprint of an API key: tells two accounts apart, reveals nothing
    of the key (what a bulk journal records of the account it was written with)."""
    return hashlib.sha256(b"aio_move_ugc account\x00" + api_key.encode()).hexdigest()[:16]


class Secret:
    """A string that never shows itself: its repr and str are a mask; only
    `get_secret_value()` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.get_secret_value() == self._value

    def __hash__(self) -> int:
        return hash(self._value)
