"""Keeping secrets out of what we print, log and raise: presigned URLs lose their query, and
text that came from a server loses the client's key and anything shaped like a signature or
a token, wherever in a sentence it stands."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "**********"
_URL_WITH_QUERY = re.compile(r"""https?://[^\s"'<>()]*\?[^\s"'<>()]*""", re.IGNORECASE)
_SECRET_PARAMETER = re.compile(
    r"""(?P<name>(?:x-amz-)?(?:signature|security-token|credential)|awsaccesskeyid|"""
    r"""(?:access_|id_|refresh_|session_|auth_)?token|sig|api[-_]?key|key-pair-id|policy)"""
    r"""(?P<sep>\s*[=:]\s*)(?P<value>[^\s&"'<>;,)]+)""",
    re.IGNORECASE,
)
"""A query parameter or a `name: value` that holds a signature, a credential or a token."""
_BEARER = re.compile(r"\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)


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


def scrub_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` (from a server) with each of `secrets` masked by value, every URL's query
    redacted, and every signature, credential, token or key parameter masked, wherever they
    stand in it."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, MASK)
    if "?" in text:
        text = _URL_WITH_QUERY.sub(lambda m: redact_url(m.group(0)), text)
    if "=" in text or ":" in text:
        text = _SECRET_PARAMETER.sub(lambda m: f"{m['name']}{m['sep']}{MASK}", text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)


def scrub(value: Any, depth: int = 0, *, secrets: Iterable[str] = ()) -> Any:
    """`value` (an API answer) with every string scrubbed (`scrub_text`), to keep on an
    error."""
    if depth > 64:
        return None
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, dict):
        held = tuple(secrets)
        return {k: scrub(v, depth + 1, secrets=held) for k, v in value.items()}
    if isinstance(value, list):
        held = tuple(secrets)
        return [scrub(v, depth + 1, secrets=held) for v in value]
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
