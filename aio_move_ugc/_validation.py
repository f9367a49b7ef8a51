"""Checks of user input that run before any request leaves, each failing with a typed error."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ._exceptions import ConfigurationError, InvalidInputError
from .types._enums import CaseInsensitiveEnum, OutputType

MIN_API_KEY_LENGTH = 12
VOLUME_ID_PREFIXES = ("volume", "job")
"""A volume's id reads `volume-<uuid>` in the reference, but the schema says it "is the volume
job id": both forms are accepted."""
FILE_TYPE = re.compile(r"^[a-z0-9]{1,16}$")
"""What a file type (an extension, per the schema: `createFile(type: 'mp4')`) may look like. Which
types the service accepts is not published: it decides; the client only refuses what cannot be
an extension."""

EnumT = TypeVar("EnumT", bound=CaseInsensitiveEnum)


# ------------------------------------------------------------ configuration values
# Every public value class (Timeout, RetryPolicy, RateBudget, TransferConfig, PollPolicy,
# BulkItem) checks its fields with these at construction: ConfigurationError, nothing sent.


def count(value: Any, name: str, *, minimum: int = 0) -> int:
    """An integer of at least `minimum` (never a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{name} must be an integer, not {type(value).__name__}")
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, got {value}")
    return value


def seconds(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """A finite number of seconds, positive (or, with `allow_zero`, not negative)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = "not negative" if allow_zero else "positive"
        raise ConfigurationError(f"{name} must be finite and {bound}, got {value!r}")
    return float(value)


def factor(value: Any, name: str, *, minimum: float = 1.0) -> float:
    """A finite number of at least `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{name} must be a number, not {type(value).__name__}")
    if not math.isfinite(value) or value < minimum:
        raise ConfigurationError(f"{name} must be finite and at least {minimum}, got {value!r}")
    return float(value)


def flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False")
    return value


def api_key(value: str | None) -> str:
    if value is None:
        raise ConfigurationError(
            "no API key: pass api_key=... or set the MOVE_UGC_API_KEY environment variable"
        )
    if not isinstance(value, str):
        raise ConfigurationError("the API key must be a string")
    if value != value.strip() or any(c.isspace() for c in value):
        raise ConfigurationError("the API key must not contain whitespace")
    if not (value.isascii() and value.isprintable()):
        # A header value carries ASCII; anything else fails later, with the key in the error.
        raise ConfigurationError("the API key must consist of printable ASCII characters")
    if len(value) < MIN_API_KEY_LENGTH:
        raise ConfigurationError(
            f"the API key is too short (at least {MIN_API_KEY_LENGTH} characters expected)"
        )
    return value


def endpoint_url(value: str) -> str:
    if not isinstance(value, str):
        raise ConfigurationError("the endpoint URL must be a string")
    stripped = value.strip()
    if any(c.isspace() or not c.isprintable() for c in stripped):
        raise ConfigurationError("the endpoint URL must not contain spaces or control characters")
    try:
        parts = urlsplit(stripped)
    except ValueError as exc:
        raise ConfigurationError(f"the endpoint URL is malformed: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError("the endpoint URL must be an absolute http(s) URL")
    if parts.username or parts.password:
        raise ConfigurationError("the endpoint URL must not carry credentials")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise ConfigurationError("the endpoint URL has a malformed port") from exc
    return stripped


def identifier(value: Any, prefix: str, what: str | None = None) -> str:
    """An id of the form `<prefix>-<rest>` (e.g. `job-3f2a...`)."""
    name = what or prefix
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} id must be a string, not {type(value).__name__}")
    prefixes = VOLUME_ID_PREFIXES if prefix == "volume" else (prefix,)
    head, dash, rest = value.partition("-")
    if not (dash and rest and head in prefixes):
        raise InvalidInputError(f"{name} id must look like '{prefix}-<uuid>', got {value!r:.60}")
    # Every whitespace character but the plain space is unprintable: two C-level checks.
    if len(value) > 200 or not value.isprintable() or " " in value:
        raise InvalidInputError(f"{name} id contains characters an id never has")
    return value


def metadata(value: Any) -> str | None:
    """Python value → the AWSJSON string the API expects (None stays None)."""
    if value is None:
        return None
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"metadata must be JSON-serialisable: {exc}") from exc
    except RecursionError:
        raise InvalidInputError("metadata is nested too deeply to encode as JSON") from None


def create_metadata(value: Any) -> str:
    """Metadata of a record being created: as `metadata`, and `"{}"` when none was given (as
    the official SDK sends), so the record never reads back without it."""
    encoded = metadata(value)
    return "{}" if encoded is None else encoded


def enum_value(enum: type[EnumT], value: Any, what: str) -> EnumT:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise InvalidInputError(
            f"unknown {what} {value!r:.40}; expected one of: {allowed}"
        ) from None


def outputs(values: Iterable[OutputType | str] | None) -> list[str] | None:
    if values is None:
        return None
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidInputError("outputs must be a list of output types")
    chosen = [enum_value(OutputType, v, "output type").value for v in values]
    return list(dict.fromkeys(chosen)) or None


def page_size(limit: int | None) -> int | None:
    if limit is None:
        return None
    # The schema and the reference set no ceiling: the service decides how many it returns.
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInputError("limit must be a whole number of at least 1")
    return limit


def file_type(value: str) -> str:
    if not isinstance(value, str):
        raise InvalidInputError("file_type must be a string such as 'mp4'")
    normalised = value.strip().lower().lstrip(".")
    if not FILE_TYPE.match(normalised):
        raise InvalidInputError(
            f"file type {value!r:.20} is not an extension such as 'mp4' (letters and digits)"
        )
    return normalised


def expand(words: Iterable[str] | None, allowed: frozenset[str]) -> frozenset[str]:
    if words is None:
        return frozenset()
    if isinstance(words, str):
        words = [words]
    if not isinstance(words, Iterable):
        raise InvalidInputError("expand must be a list of words")
    listed = list(words)
    if not all(isinstance(word, str) for word in listed):
        raise InvalidInputError("expand must be a list of words")
    chosen = frozenset(listed)
    unknown = chosen - allowed
    if unknown:
        raise InvalidInputError(
            f"cannot expand {sorted(unknown)}; this call expands {sorted(allowed)}"
        )
    return chosen


def positive_number(value: Any, what: str, *, integer: bool = False) -> Any:
    kinds: tuple[type[int] | type[float], ...] = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:
        raise InvalidInputError(f"{what} must be a positive {'integer' if integer else 'number'}")
    if not integer and not math.isfinite(value):
        raise InvalidInputError(f"{what} must be finite")
    return value


def http_url(value: Any, what: str) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(f"{what} must be an absolute http(s) URL")
    return str(value)


def required_text(value: Any, what: str) -> str:
    """A non-empty string that must be given."""
    if value is None:
        raise InvalidInputError(f"{what} is required")
    checked = text(value, what, allow_empty=False)
    assert checked is not None
    return checked


def text(value: Any, what: str, *, allow_empty: bool = True) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string")
    if not allow_empty and not value.strip():
        raise InvalidInputError(f"{what} must not be empty")
    if "\x00" in value:
        raise InvalidInputError(f"{what} must not contain NUL characters")
    return value


def path(value: Any, what: str) -> Path:
    """A file system path given as `str` or `os.PathLike` (never None, bytes or a number)."""
    if isinstance(value, bool) or not isinstance(value, str | os.PathLike):
        raise InvalidInputError(f"{what} must be a path, not {type(value).__name__}")
    text = os.fspath(value)
    if not isinstance(text, str) or not text or "\x00" in text:
        raise InvalidInputError(f"{what} must be a non-empty path")
    return Path(text)


def directory(value: Any, what: str) -> Path:
    """A directory to write into: it exists as a writable directory, or can be made (its
    nearest existing ancestor is a writable directory). Checked before anything is sent."""
    target = path(value, what)
    probe = target
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise InvalidInputError(f"{what} {target} cannot be a directory: {probe} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InvalidInputError(f"{what} {target} is not writable ({probe})")
    return target
