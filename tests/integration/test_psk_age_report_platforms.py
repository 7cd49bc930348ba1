"""docs/examples/psk_age_report.yml reads each router's stamp the way the tunnel_psk role does on its platform: a
VyOS router (the site-to-site peer's description, over network_cli) that holds the key in force is not reported
stale, one whose stamp is still `pending` is; the router's key never leaves it. Host variables are the role's
(tunnel_psk_tunnel_name), as docs/awx uses them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from devices.sshcli import SshDeviceServer
from devices.vyos import VyosDevice
from support.network_role import NetworkRoleRunner

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "psk_age_report.yml"
TUNNEL = "tunnel_nyc_01"
USER, PASSWORD = "vyos", "device-login-5Rt8"
ROUTER_KEY = "vyos-held-key-never-to-leave-the-router-0123"
DESCRIPTION = ("vpn", "ipsec", "site-to-site", "peer", f"CF_{TUNNEL}", "description")
SECRET = ("vpn", "ipsec", "authentication", "psk", f"CF_{TUNNEL}", "secret")


def report(runner, emulator, folder):
    extra = {"cloudflare_ca_path": emulator.ca_file, "report_dir": str(folder), "psk_max_age": "90d"}
    run = runner.run_playbook(EXAMPLE, "-e", json.dumps(extra))
    assert run.returncode == 0, run.stdout[-3000:]
    with open(folder / "psk-age-report.csv", newline="", encoding="utf-8") as handle:
        rows = {row["name"]: row for row in csv.DictReader(handle)}
    return run, rows, (folder / "psk-age-report.md").read_text()


@pytest.mark.slow(reason=(
    "the report example twice (the stamp in force, then pending) over network_cli against the VyOS simulator: "
    "a persistent connection and the example's tasks in each run, the state between the runs is what is tested"))
def test_a_vyos_router_is_read_from_its_peer_description_and_a_pending_stamp_is_stale(tmp_path, emulator):
    tunnel = next(t for t in emulator.tunnels() if t["name"] == TUNNEL)
    stamp = tunnel["psk_metadata"]["last_generated_on"]
    device = VyosDevice("vyos-nyc")
    device.running += [SECRET + (ROUTER_KEY,), DESCRIPTION + (f"cloudflare.magic psk {stamp}",)]
    with SshDeviceServer(lambda: device, USER, PASSWORD) as server:
        runner = NetworkRoleRunner(tmp_path / "run", emulator, server, "vyos.vyos.vyos", USER, PASSWORD,
                                   tunnel=TUNNEL)
        run, rows, _text = report(runner, emulator, tmp_path / "in-force")
        assert rows[TUNNEL]["router_stale"] == "false", rows[TUNNEL]
        device.running = [line for line in device.running if line[:-1] != DESCRIPTION]
        device.running.append(DESCRIPTION + (f"cloudflare.magic psk pending {stamp}",))
        pending, rows, text = report(runner, emulator, tmp_path / "pending")
    assert rows[TUNNEL]["router_stale"] == "true", rows[TUNNEL]
    stale_section = text.split("## Stale routers", 1)[1]
    assert f"- router1 ({TUNNEL}, {tunnel['id']}): holds a key written but not yet proven loaded (pending {stamp})" \
        in stale_section
    assert (run.hits(ROUTER_KEY, PASSWORD, emulator.token("magic_wan_write")) == 0
            and pending.hits(ROUTER_KEY, PASSWORD) == 0)
    assert ROUTER_KEY not in text
