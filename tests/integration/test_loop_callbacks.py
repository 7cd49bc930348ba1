"""A registered ipsec_psk loop shows no key and no token in any callback, on every core line, even where an
item fails with an error that quotes the token: `make test`
runs this file in each line's venv (docs/reliability.md shows the matrix)."""

from __future__ import annotations

import pytest
from ansible.release import __version__ as ansible_core

from reliability.callbacks import CALLBACK_RUNS, CALLBACKS
from reliability.escrow_cell import run_escrow_cell, hashi_vault_refuses
from reliability.junos_cells import run_junos_role_cell
from reliability.fortios_cell import run_fortios_cell
from reliability.loops import TUNNELS, run_info_loop_cell, run_loop_cell
from reliability.role_cells import run_role_cell
from reliability.record import record

pytestmark = pytest.mark.slow(reason=(
    "each cell is a whole playbook run with its callback; the role's cells run the role against a "
    "simulator or OpenBao"))


def _record(seen, label):
    """The cell's row of the matrix (docs/reliability.md)."""
    record("loops", core=ansible_core, callback=label, keys_ok=seen.keys_ok, hits=sum(seen.hits.values()),
           **seen.hits)


def _check_cells(cells, suffix, task, keys_wrong):
    """Every cell of one run (a callback each) recorded before any assertion, then each checked."""
    for name, seen in cells.items():
        _record(seen, f"{name}{suffix}")
    for name, seen in cells.items():
        _check_cell(seen, f"{name}{suffix}", task, keys_wrong, recorded=True)


def _check_cell(seen, label, task, keys_wrong, recorded=False):
    """Record the cell's row (unless ``recorded``), then what every cell must show: the run passed, the callback
    showed ``task``, no secret in any channel, and the keys where they belong (``keys_wrong`` says otherwise)."""
    if not recorded:
        _record(seen, label)
    assert seen.returncode == 0, "the playbook failed"
    assert seen.callback_saw_rotation, f"{label} showed nothing of {task}"
    leaking = {c: n for c, n in seen.hits.items() if n}
    assert not leaking, f"secrets shown in {sorted(leaking)}: {leaking}"
    keys_ok = seen.keys_ok
    assert keys_ok, keys_wrong


# The five callbacks in three runs (CALLBACK_RUNS): default's output with junit's and tree's files, then json and
# jsonl; each callback is still a cell of its own, recorded and checked.
RUNS = pytest.mark.parametrize("callbacks", CALLBACK_RUNS, ids=[r.name for r in CALLBACK_RUNS])


@RUNS
def test_loop_callbacks(callbacks, emulator, playbooks, tmp_path):
    cells = run_loop_cell(callbacks, emulator, playbooks, tmp_path)
    _check_cells(cells, "", "the rotation task", "a router file does not hold exactly its tunnel's edge key")
    seen = next(iter(cells.values()))
    assert seen.keys == TUNNELS, "the emulator did not answer with one key per tunnel"
    assert seen.echo_failed, "the item with the echoing error was not sent"


@RUNS
def test_info_loop_callbacks(callbacks, emulator, playbooks, tmp_path):
    cells = run_info_loop_cell(callbacks, emulator, playbooks, tmp_path)
    _check_cells(cells, " (ipsec_tunnel_info)", "the report task",
                 "the registered loop does not hold one report per tunnel")
    assert emulator.generated_psks() == [], "a report generated a key"


@RUNS
def test_role_callbacks(callbacks, emulator, playbooks, tmp_path):
    """The tunnel_psk role's tasks (bulk rotation, each host's entry, the hand-off) under the same callbacks."""
    cells = run_role_cell(callbacks, emulator, playbooks, tmp_path)
    _check_cells(cells, " (tunnel_psk role)", "the role's rotation task",
                 "a router file does not hold exactly its tunnel's edge key")
    assert next(iter(cells.values())).keys == TUNNELS, "the emulator did not answer with one key per tunnel"


@RUNS
def test_role_junos_callbacks(callbacks, emulator, playbooks, tmp_path):
    """The role's Juniper SRX hand-off (junos_config over NETCONF, against the SRX simulator), same callbacks."""
    cells = run_junos_role_cell(callbacks, emulator, playbooks, tmp_path)
    _check_cells(cells, " (tunnel_psk role, junos)", "the role's hand-off task",
                 "the SRX does not hold the tunnel's edge key")
    assert next(iter(cells.values())).keys == 1, "the emulator did not answer with one key"


def test_role_fortios_callbacks(emulator, tmp_path):
    """The role on a FortiGate (fortinet.fortios over httpapi, the REST API simulator): json, junit and tree in one
    run; no key (new or old) and no token in any of them."""
    cells = run_fortios_cell(emulator, tmp_path)
    _check_cells(cells, " (tunnel_psk role, fortios)", "the role's rotation task",
                 "the FortiGate does not hold the key in force")


@pytest.mark.parametrize("callback", [c for c in CALLBACKS if c.name in ("default", "ansible.posix.json")],
                         ids=["default", "ansible.posix.json"])
def test_role_escrow_callbacks(callback, emulator, tmp_path, openbao, hashi_vault_path):
    """The role's escrow (community.hashi_vault's modules and lookups against a real OpenBao server) at -vvv with
    log_path: no key and no escrow token in stdout, stderr or the log."""
    refusal = hashi_vault_refuses(hashi_vault_path)
    if refusal:
        pytest.skip(refusal)
    seen = run_escrow_cell(callback, emulator, tmp_path, openbao, hashi_vault_path)
    _check_cell(seen, f"{callback.name} (tunnel_psk role, escrow)", "the escrow write",
                "the escrow and the router do not both hold the edge key")
