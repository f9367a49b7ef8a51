"""Workflow ids: one per input, made of the input's identity (`_steps.identity`)."""

from __future__ import annotations

WORKFLOW_PREFIX = "move-ugc-take-"


def workflow_id(key: str) -> str:
    """The workflow id of an input: submitting the same input again finds the same workflow."""
    return WORKFLOW_PREFIX + key
