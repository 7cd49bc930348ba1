"""Fixtures of the escrow tests: one real OpenBao server per pytest(-xdist) worker, and community.hashi_vault."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ansible.release import __version__ as ansible_core

from support.openbao import OpenBao

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "tools"))

import network_collections  # noqa: E402

ansible_core_version = tuple(int(part) for part in ansible_core.split(".")[:2])


@pytest.fixture(scope="session")
def openbao(tmp_path_factory):
    """One OpenBao dev server per pytest(-xdist) worker; each test takes a fresh KV v2 mount of its own."""
    server = OpenBao(tmp_path_factory.mktemp("openbao")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def hashi_vault_path():
    """community.hashi_vault, taken from the pinned ansible wheel with the network collections; on ansible-core 2.16,
    which its 7.x does not admit, the 6.x of the `ansible` 9 package."""
    if ansible_core_version < (2, 17):
        return str(network_collections.ensure_hashi_vault_2_16(ROOT / ".venv" / "hashi-vault-2.16"))
    return str(network_collections.ensure(ROOT / ".venv" / "network-collections"))
