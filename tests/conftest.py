"""Fixtures shared by every test: the Cloudflare API emulator and a way to run real ansible-playbook."""

from __future__ import annotations

import os
import sys

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
for path in (os.path.join(TESTS, "emulator"), TESTS):
    if path not in sys.path:
        sys.path.insert(0, path)

from cf_emulator import Emulator  # noqa: E402
from support.playbooks import PlaybookRunner  # noqa: E402

# Lists the tests longer than 20 s at the end of a run; with CPU_BY_TEST=1, what each file cost (docs/testing.md).
pytest_plugins = ["support.slow_tests", "support.cpu_by_test"]


@pytest.fixture
def emulator(tmp_path):
    """A fresh HTTPS emulator with the default seed, stopped after the test."""
    emu = Emulator(tls=True, state_dir=str(tmp_path / "emulator")).start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def playbooks(tmp_path, emulator):
    """Runs ansible-playbook against ``emulator`` with credentials in the environment, as AWX would."""
    return PlaybookRunner(tmp_path / "run", emulator)
