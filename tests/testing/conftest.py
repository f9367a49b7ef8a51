"""pytest's own `pytester` fixture, for running test files the way a user runs them.

Enabled from here rather than with `pytest_plugins`, which pytest accepts only in the rootdir's
conftest.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the pytester plugin (once, whichever of the conftests asks first)."""
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")
