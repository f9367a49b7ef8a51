"""The pytest plugin as a user meets it: test files of theirs, run by pytest in a subprocess."""

from __future__ import annotations

import pytest

from ._user_tests import ANYIO, ASYNC_FLOW, CONFIGURED, ENV_SYNC, INI_AUTO, INI_STRICT, UNUSED

pytestmark = pytest.mark.slow

TIMEOUT = 240.0
"""Seconds a subprocess run of pytest may take before the test fails."""


def test_async_client_fixture_in_auto_mode(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI_AUTO)
    pytester.makepyfile(test_flow=ASYNC_FLOW.format(marker=""))
    result = pytester.runpytest_subprocess("-q", timeout=TIMEOUT)
    result.assert_outcomes(passed=1)


def test_async_client_fixture_in_strict_mode(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI_STRICT)
    pytester.makepyfile(test_flow=ASYNC_FLOW.format(marker="@pytest.mark.asyncio"))
    result = pytester.runpytest_subprocess("-q", timeout=TIMEOUT)
    result.assert_outcomes(passed=1)


def test_environment_fixture_serves_sync_code(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI_AUTO)
    pytester.makepyfile(test_env=ENV_SYNC)
    result = pytester.runpytest_subprocess("-q", "-p", "no:randomly", timeout=TIMEOUT)
    result.assert_outcomes(passed=3)


def test_marker_and_indirect_parametrization_configure_the_emulator(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(INI_AUTO)
    pytester.makepyfile(test_configured=CONFIGURED)
    result = pytester.runpytest_subprocess("-q", timeout=TIMEOUT)
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(["*unknown emulator setting(s) no_such_setting*"])


def test_fixtures_under_anyio_without_pytest_asyncio(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nfilterwarnings = error\naddopts = --strict-markers\n")
    pytester.makepyfile(test_anyio=ANYIO)
    result = pytester.runpytest_subprocess("-q", "-p", "no:asyncio", timeout=TIMEOUT)
    result.assert_outcomes(passed=2)


def test_the_plugin_stays_out_of_the_way_when_unused(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI_AUTO)
    pytester.makepyfile(test_unused=UNUSED)
    result = pytester.runpytest_subprocess("-q", timeout=TIMEOUT)
    result.assert_outcomes(passed=2)
    markers = pytester.runpytest_subprocess("--markers", timeout=TIMEOUT)
    markers.stdout.fnmatch_lines(["@pytest.mark.move_ugc_emulator(**settings)*"])
    disabled = pytester.runpytest_subprocess("-p", "no:move_ugc", "--markers", timeout=TIMEOUT)
    assert disabled.ret == 0
    assert "move_ugc_emulator" not in disabled.stdout.str()
