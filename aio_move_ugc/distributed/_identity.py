"""The identity of an input: every byte of the video, plus the options that change the result."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

WORKFLOW_PREFIX = "move-ugc-take-"
_READ = 1 << 20


def content_key(path: Path, outputs: Sequence[str] | None) -> str:
    """sha256 of the file (read in 1 MiB pieces: memory does not grow with the video) and of
    the requested outputs, so the same video asked for other outputs is another input."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_READ):
            digest.update(chunk)
    options = json.dumps({"outputs": sorted(outputs) if outputs else None}, sort_keys=True)
    digest.update(b"\x00" + options.encode())
    return digest.hexdigest()


def workflow_id(key: str) -> str:
    """The workflow id of an input: submitting the same input again finds the same workflow."""
    return WORKFLOW_PREFIX + key
