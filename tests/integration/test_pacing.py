"""A fleet rotation under a compressed rate limit: forks share the quota, nobody gets a 429."""

from __future__ import annotations

import math

import pytest
from cf_emulator import Emulator, seed_with_tunnels
from support.fleet import fleet_play, fleet_tunnels, rotate_by_host_task, write_fleet_inventory
from support.playbooks import PlaybookRunner

FLEET = 60
QUOTA = 20
WINDOW = 2.0
FORKS = 15


@pytest.fixture
def limited_emulator(tmp_path):
    emu = Emulator(tls=True, state_dir=str(tmp_path / "emulator"), seed=seed_with_tunnels(FLEET),
                   ratelimit_quota=QUOTA, ratelimit_window=WINDOW, ratelimit_block=WINDOW).start()
    try:
        yield emu
    finally:
        emu.stop()


def write_router_key_task(directory):
    """Each router gets its own key: written to <directory>/<host>.psk, never shown."""
    return {"name": "Hand the key to the router", "ansible.builtin.copy": {
        "content": "{{ rotation.psk }}", "dest": f"{directory}/{{{{ inventory_hostname }}}}.psk", "mode": "0600"},
        "no_log": True}


@pytest.mark.slow(reason="a fleet larger than twice the quota: the run must wait for the rate limit's window, which is the point")
def test_fleet_rotation_under_a_compressed_window_gets_no_429_and_hands_every_key_on(limited_emulator, tmp_path):
    emu = limited_emulator
    runner = PlaybookRunner(tmp_path / "run", emu)
    tunnels = fleet_tunnels(emu.tunnels())
    assert len(tunnels) == FLEET > QUOTA * 2
    inventory = write_fleet_inventory(tmp_path / "fleet.yml", tunnels)
    routers = tmp_path / "routers"
    routers.mkdir()

    run = runner.run(fleet_play(rotate_by_host_task(emu), write_router_key_task(routers)),
                     "-i", str(inventory), "-f", str(FORKS), timeout=240)

    assert run.returncode == 0, run.stdout[-3000:]
    answered = [r for r in emu.requests if r.status is not None]
    assert [r.status for r in answered].count(429) == 0
    posts = sorted(r.path.split("/")[-2] for r in answered if r.method == "POST")
    assert posts == sorted(t["id"] for t in tunnels)  # every tunnel rotated, each exactly once
    handed_on = [(routers / f"router-{n:04d}.psk").read_text() == emu.edge_psk(t["id"])
                 for n, t in enumerate(tunnels)]
    assert handed_on.count(True) == FLEET, f"{handed_on.count(False)} routers got a key that is not in force"
    # The quota was what bound the run: it took at least the windows the emulator enforces.
    times = sorted(r.time for r in answered)
    assert times[-1] - times[0] >= (math.ceil(FLEET / QUOTA) - 1) * WINDOW - 0.05
    keys = [emu.edge_psk(t["id"]) for t in tunnels]
    assert run.hits(runner.token, *keys) == 0
    shared_state = "".join(p.read_text() for p in (tmp_path / "run").rglob("cloudflare_magic_ratelimit/*.json"))
    assert shared_state and runner.token not in shared_state and not any(k in shared_state for k in keys)
