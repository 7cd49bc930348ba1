"""20 forks rotating 20 tunnels at once: every router task gets its own tunnel's key in force."""

from __future__ import annotations

import pytest
import yaml

from cf_emulator import Emulator, seed_with_tunnels
from reliability.common import FAST_RETRIES
from reliability.record import record
from support.playbooks import PlaybookRunner, rotate_task, write_psk_task

FLEET = 20


@pytest.fixture
def fleet_emulator(tmp_path):
    emu = Emulator(seed=seed_with_tunnels(FLEET), tls=True, state_dir=str(tmp_path / "emulator")).start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.mark.slow(reason="twenty forks, one rotation and one router write each, in one run")
def test_twenty_forks_each_get_their_own_tunnels_key(fleet_emulator, tmp_path):
    emu = fleet_emulator
    fleet = [t for t in emu.seed["accounts"][0]["tunnels"] if t["name"].startswith("fleet_")][:FLEET]
    runner = PlaybookRunner(tmp_path / "run", emu)
    inventory = {"routers": {"hosts": {f"r{i:02d}": {"tunnel_id": t["id"], "ansible_connection": "local"}
                                       for i, t in enumerate(fleet)}}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    router_files = str(tmp_path / "router-{{ inventory_hostname }}")
    plays = [{"name": "Rotate the fleet", "hosts": "routers", "gather_facts": False, "tasks": [
        rotate_task(emu, ipsec_tunnel_id="{{ tunnel_id }}", **FAST_RETRIES), write_psk_task(router_files)]}]
    run = runner.run(plays, "-i", str(tmp_path / "inventory.yml"), "--forks", str(FLEET))
    assert run.returncode == 0, run.stdout[-3000:]
    matches = sum((tmp_path / f"router-r{i:02d}").read_text() == emu.edge_psk(t["id"]) for i, t in enumerate(fleet))
    distinct = len({emu.edge_psk(t["id"]) for t in fleet})
    posts = [r for r in emu.requests if r.method == "POST"]
    record("concurrency", tunnels=FLEET, forks=FLEET, router_keys_equal_edge=matches, distinct_keys=distinct,
           posts=len(posts), hits=run.hits(*emu.generated_psks(), runner.token))
    assert matches == FLEET, f"{FLEET - matches} router(s) got a key that is not their tunnel's edge key"
    assert distinct == FLEET and len(posts) == FLEET
    assert run.hits(*emu.generated_psks(), runner.token) == 0
