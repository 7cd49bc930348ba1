"""A registered ipsec_psk loop shows no key and no token in any callback, on every core line, even where an
item fails with an error that quotes the token: `make test`
runs this file in each line's venv (docs/reliability.md shows the matrix)."""

from __future__ import annotations

import pytest
from ansible.release import __version__ as ansible_core

from reliability.callbacks import CALLBACKS
from reliability.escrow_cell import run_escrow_cell, hashi_vault_refuses
from reliability.junos_cells import run_junos_role_cell
from reliability.fortios_cell import run_fortios_cell
from reliability.loops import TUNNELS, run_info_loop_cell, run_loop_cell
from reliability.role_cells import run_role_cell
from reliability.record import record

pytestmark = pytest.mark.slow(reason=(
    "each cell is a whole playbook run with its callback; the role's cells run the role against a "
    "simulator or OpenBao"))


@pytest.mark.parametrize("callback", CALLBACKS, ids=[c.name for c in CALLBACKS])
def test_loop_callbacks(callback, emulator, playbooks, tmp_path):
    seen = run_loop_cell(callback, emulator, playbooks, tmp_path)
    record("loops", core=ansible_core, callback=callback.name, keys_ok=seen.keys_ok, hits=sum(seen.hits.values()),
           **seen.hits)
    assert seen.returncode == 0, "the playbook failed"
    assert seen.keys == TUNNELS, "the emulator did not answer with one key per tunnel"
    assert seen.callback_saw_rotation, f"{callback.name} showed nothing of the rotation task"
    assert seen.echo_failed, "the item with the echoing error was not sent"
    leaking = {c: n for c, n in seen.hits.items() if n}
    assert not leaking, f"secrets shown in {sorted(leaking)}: {leaking}"
    ok = seen.keys_ok
    assert ok, "a router file does not hold exactly its tunnel's edge key"


@pytest.mark.parametrize("callback", CALLBACKS, ids=[c.name for c in CALLBACKS])
def test_info_loop_callbacks(callback, emulator, playbooks, tmp_path):
    seen = run_info_loop_cell(callback, emulator, playbooks, tmp_path)
    record("loops", core=ansible_core, callback=f"{callback.name} (ipsec_tunnel_info)", keys_ok=seen.keys_ok,
           hits=sum(seen.hits.values()), **seen.hits)
    assert seen.returncode == 0, "the playbook failed"
    assert seen.callback_saw_rotation, f"{callback.name} showed nothing of the report task"
    leaking = {c: n for c, n in seen.hits.items() if n}
    assert not leaking, f"secrets shown in {sorted(leaking)}: {leaking}"
    complete = seen.keys_ok
    assert complete, "the registered loop does not hold one report per tunnel"
    assert emulator.generated_psks() == [], "a report generated a key"


@pytest.mark.parametrize("callback", CALLBACKS, ids=[c.name for c in CALLBACKS])
def test_role_callbacks(callback, emulator, playbooks, tmp_path):
    """The tunnel_psk role's tasks (bulk rotation, each host's entry, the hand-off) under the same callbacks."""
    seen = run_role_cell(callback, emulator, playbooks, tmp_path)
    record("loops", core=ansible_core, callback=f"{callback.name} (tunnel_psk role)", keys_ok=seen.keys_ok,
           hits=sum(seen.hits.values()), **seen.hits)
    assert seen.returncode == 0, "the playbook failed"
    assert seen.keys == TUNNELS, "the emulator did not answer with one key per tunnel"
    assert seen.callback_saw_rotation, f"{callback.name} showed nothing of the role's rotation task"
    leaking = {c: n for c, n in seen.hits.items() if n}
    assert not leaking, f"secrets shown in {sorted(leaking)}: {leaking}"
    assert seen.keys_ok, "a router file does not hold exactly its tunnel's edge key"


@pytest.mark.parametrize("callback", CALLBACKS, ids=[c.name for c in CALLBACKS])
def test_role_junos_callbacks(callback, emulator, playbooks, tmp_path):
    """The role's Juniper SRX hand-off (junos_config over NETCONF, against the SRX simulator), same callbacks."""
    seen = run_junos_role_cell(callback, emulator, playbooks, tmp_path)
    record("loops", core=ansible_core, callback=f"{callback.name} (tunnel_psk role, junos)", keys_ok=seen.keys_ok,
           hits=sum(seen.hits.values()), **seen.hits)
    assert seen.returncode == 0, "the playbook failed"
    assert seen.keys == 1, "the emulator did not answer with one key"
    assert seen.callback_saw_rotation, f"{callback.name} showed nothing of the role's hand-off task"
    leaking = {c: n for c, n in seen.hits.items() if n}
    assert not leaking, f"secrets shown in {sorted(leaking)}: {leaking}"
    assert seen.keys_ok, "the SRX does not hold the tunnel's edge key"


def test_role_fortios_callbacks(emulator, tmp_path):
    """The role on a FortiGate (fortinet.fortios over httpapi, the REST API simulator): json, junit and tree in one
    run; no key (new or old) and no token in any of them."""
    cells = run_fortios_cell(emulator, tmp_path)
    for name, seen in cells.items():
        record("loops", core=ansible_core, callback=f"{name} (tunnel_psk role, fortios)", keys_ok=seen.keys_ok,
               hits=sum(seen.hits.values()), **seen.hits)
    for name, seen in cells.items():
        assert seen.returncode == 0, "the playbook failed"
        assert seen.callback_saw_rotation, f"{name} showed nothing of the role's rotation task"
        leaking = {c: n for c, n in seen.hits.items() if n}
        assert not leaking, f"secrets shown by {name} in {sorted(leaking)}: {leaking}"
        assert seen.keys_ok, "the FortiGate does not hold the key in force"


@pytest.mark.parametrize("callback", [c for c in CALLBACKS if c.name in ("default", "ansible.posix.json")],
                         ids=["default", "ansible.posix.json"])
def test_role_escrow_callbacks(callback, emulator, tmp_path, openbao, hashi_vault_path):
    """The role's escrow (community.hashi_vault's modules and lookups against a real OpenBao server) at -vvv with
    log_path: no key and no escrow token in stdout, stderr or the log."""
    refusal = hashi_vault_refuses(hashi_vault_path)
    if refusal:
        pytest.skip(refusal)
    seen = run_escrow_cell(callback, emulator, tmp_path, openbao, hashi_vault_path)
    record("loops", core=ansible_core, callback=f"{callback.name} (tunnel_psk role, escrow)", keys_ok=seen.keys_ok,
           hits=sum(seen.hits.values()), **seen.hits)
    assert seen.returncode == 0, "the playbook failed"
    assert seen.callback_saw_rotation, f"{callback.name} showed nothing of the escrow write"
    leaking = {c: n for c, n in seen.hits.items() if n}
    assert not leaking, f"secrets shown in {sorted(leaking)}: {leaking}"
    assert seen.keys_ok, "the escrow and the router do not both hold the edge key"
