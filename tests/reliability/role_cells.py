"""The role's row of the loop x callback matrix: the tunnel_psk role (strongSwan, bulk mode) for two router
hosts, each a folder; every callback's output is searched for every key the emulator answered with and for
the token, as for the loop cells."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import yaml

from reliability.callbacks import collections_path
from reliability.loops import TUNNELS, cells, saw_task
from support.playbooks import seed_account

ROTATE = "Rotate every host's tunnel in one request"


def role_play(workdir, emulator, tunnels):
    hosts = {f"router-{n}": {"tunnel_psk_tunnel_name": t["name"],
                             "tunnel_psk_swanctl_conf_dir": str(workdir / f"router-{n}")}
             for n, t in enumerate(tunnels)}
    for host in hosts.values():
        Path(host["tunnel_psk_swanctl_conf_dir"]).mkdir(parents=True, exist_ok=True)
    inventory = workdir / "role-inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"routers": {"hosts": hosts, "vars": {
        "ansible_connection": "local", "tunnel_psk_platform": "strongswan", "tunnel_psk_bulk": True,
        "tunnel_psk_swanctl_load": False, "tunnel_psk_ike_id": "router.example.net",
        "tunnel_psk_ca_path": emulator.ca_file}}}}}))
    return inventory, [{"name": "The role", "hosts": "routers", "gather_facts": False,
                        "roles": ["cloudflare.magic.tunnel_psk"]}]


def key_in(conf):
    match = re.search(r"^\s*secret = 0s(\S+)$", conf.read_text(), re.MULTILINE) if conf.exists() else None
    return match.group(1) if match else None


def run_role_cell(callbacks, emulator, playbooks, workdir, verbosity=3):
    tunnels = seed_account(emulator)["tunnels"][:TUNNELS]
    folder = workdir / "callback-output"
    env = dict(callbacks.environment(folder), ANSIBLE_COLLECTIONS_PATH=collections_path())
    inventory, plays = role_play(workdir, emulator, tunnels)
    run = playbooks.run(plays, "-i", str(inventory), env=env, verbosity=verbosity)
    secrets = [*emulator.generated_psks(), playbooks.token]

    def count(text):
        return sum(text.count(s) for s in secrets if s)
    held = [(key_in(workdir / f"router-{n}" / f"cloudflare-{t['name']}.conf"), emulator.edge_psk(t["id"]))
            for n, t in enumerate(tunnels)]
    keys_ok = all(edge and key and base64.b64decode(key).decode() == edge for key, edge in held)
    return cells(callbacks, run, folder, count, saw_task(ROTATE), keys=len(emulator.generated_psks()),
                 echo_failed=False, keys_ok=keys_ok)
