"""The pytest plugin playing, through a `move_ugc_emulator_config` override in a user's
conftest, the configuration a probe wrote."""

from __future__ import annotations

import pytest

from aio_move_ugc.cli import main
from aio_move_ugc.emulator import Variants
from aio_move_ugc.testing import TEST_SETTINGS, EmulatorThread, emulator_config

from ._user_tests import INI_AUTO

pytestmark = pytest.mark.slow
KEY = "a-users-own-secret-key-4242"


CONFTEST = """
import pytest

from aio_move_ugc.testing import TEST_SETTINGS, emulator_config


@pytest.fixture
def move_ugc_emulator_config():
    return emulator_config(from_file="probe.json", **TEST_SETTINGS)
"""
USER_TEST = """
async def test_my_code_meets_what_my_account_does(move_ugc_client, move_ugc_emulator):
    account = await move_ugc_client.client.retrieve()
    assert account.metadata == {}
    assert move_ugc_emulator.emulator.config.variants.missing_metadata == "empty_json"
"""


def test_the_plugin_plays_a_probes_config_through_a_conftest_override(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = pytester.path / "probe.json"
    config = emulator_config(
        api_key=KEY, variants=Variants(missing_metadata="empty_json"), **TEST_SETTINGS
    )
    with EmulatorThread(config) as emu:
        flags = ["--api-key", KEY, "--endpoint-url", emu.endpoint_url]
        assert main(["probe", *flags, "--emulator-config", str(cfg)]) == 0
    capsys.readouterr()
    pytester.makeini(INI_AUTO)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_mine=USER_TEST)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", timeout=240)
    result.assert_outcomes(passed=1)
