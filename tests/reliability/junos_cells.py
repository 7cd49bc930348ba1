"""The role's Juniper SRX row of the loop x callback matrix: the tunnel_psk role (platform junos, through
junipernetworks.junos over ansible.netcommon.netconf) hands a rotated key to the NETCONF simulator of an SRX;
every callback's output is searched for the key (in clear and as the SRX shows it, $9$...), the token and the
device's login. junos_config returns the SRX's compare and quotes its lines in errors; ncclient logs every RPC
it sends (the role asks for ``log_filter = ncclient``, set here)."""

from __future__ import annotations

import os

import yaml

from devices.junos import JunosDevice, encrypted
from devices.netconf import NetconfServer
from reliability.callbacks import collections_path
from reliability.loops import cells, saw_task
from support.network_role import collections_path as network_collections_path
from support.playbooks import seed_account

HANDOFF = "Junos | Commit the key with its pending stamp (commit confirmed)"
LOGIN = ("netops", "device-login-matrix-5Rw8")


def run_junos_role_cell(callbacks, emulator, playbooks, workdir, verbosity=3):
    tunnel = next(t for t in seed_account(emulator)["tunnels"] if t.get("customer_endpoint"))
    srx = JunosDevice("srx-matrix", edge_key=lambda address: emulator.edge_psk(tunnel["id"])
                      if address == tunnel["cloudflare_endpoint"] else None)
    folder = workdir / "callback-output"
    with NetconfServer(lambda: srx, *LOGIN) as server:
        inventory = workdir / "junos-inventory.yml"
        inventory.write_text(yaml.safe_dump({"all": {"hosts": {"srx-1": {
            "ansible_host": "127.0.0.1", "ansible_port": server.port, "ansible_user": LOGIN[0],
            "ansible_password": LOGIN[1], "ansible_connection": "ansible.netcommon.netconf",
            "ansible_network_os": "junipernetworks.junos.junos", "tunnel_psk_tunnel_name": tunnel["name"],
            "tunnel_psk_ike_id": emulator.ipsec_id(tunnel["id"]), "tunnel_psk_ca_path": emulator.ca_file}}}}))
        paths = os.pathsep.join((collections_path(), network_collections_path()))
        env = dict(callbacks.environment(folder), ANSIBLE_COLLECTIONS_PATH=paths, ANSIBLE_LOG_FILTER="ncclient",
                   ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_PARAMIKO_RECORD_HOST_KEYS="False",
                   HOME=str(workdir), ANSIBLE_PERSISTENT_CONNECT_TIMEOUT="15",
                   ANSIBLE_PERSISTENT_COMMAND_TIMEOUT="30")
        plays = [{"name": "The role on an SRX", "hosts": "srx-1", "gather_facts": False,
                  "roles": ["cloudflare.magic.tunnel_psk"]}]
        run = playbooks.run(plays, "-i", str(inventory), env=env, verbosity=verbosity)
    keys = emulator.generated_psks()
    secrets = [*keys, *(encrypted(k) for k in keys), playbooks.token, LOGIN[1]]

    def count(text):
        return sum(text.count(s) for s in secrets if s)
    held = srx.leaf("security", "ike", "policy", f"CF_{tunnel['name']}", "pre-shared-key", "ascii-text")
    return cells(callbacks, run, folder, count, saw_task(HANDOFF), keys=len(keys), echo_failed=False,
                 keys_ok=bool(held) and held == emulator.edge_psk(tunnel["id"]))
