"""Fixtures for the emulator's own tests: a running emulator and a small HTTP client for it."""

from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "emulator"))
for _path in (EMULATOR_DIR, HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from cf_emulator import Emulator  # noqa: E402
from emulator_client import ApiClient  # noqa: E402


@pytest.fixture
def emu(tmp_path):
    """An HTTPS emulator with the default seed."""
    with Emulator(state_dir=str(tmp_path / "state")) as emulator:
        yield emulator


@pytest.fixture
def plain_emu():
    """A plain-HTTP emulator with the default seed (lets tests see raw TCP behaviour)."""
    with Emulator(tls=False) as emulator:
        yield emulator


@pytest.fixture
def writer(emu):
    """A client holding the full-write token."""
    with ApiClient(emu, token=emu.token("magic_wan_write")) as client:
        yield client


@pytest.fixture
def account_id(emu):
    return emu.seed["accounts"][0]["id"]


@pytest.fixture
def tunnel_ids(emu):
    return {t["name"]: t["id"] for t in emu.seed["accounts"][0]["tunnels"]}
