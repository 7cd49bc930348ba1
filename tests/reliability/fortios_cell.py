"""The FortiGate's cell of the loop x callback matrix: the tunnel_psk role (platform fortios) through
fortinet.fortios's httpapi plugin and modules to the REST API simulator, in one run with the ansible.posix.json
stdout callback and the junit and tree callbacks on (three callbacks for the price of one run: each FortiGate
run takes a minute and more). The default stdout callback is covered by tests/integration/test_role_fortios.py
at -vvvv. Every channel is searched for the key the emulator answered with, the key the FortiGate held before,
the Cloudflare token and the FortiGate's API token."""

from __future__ import annotations

import os

from devices.fortios import FortiGate, FortiGateServer
from reliability.callbacks import CallbackRun, callbacks_named, collections_path
from reliability.loops import cells, saw_task
from support.network_role import NetworkRoleRunner, collections_path as network_collections_path

TUNNEL = "tunnel_nyc_01"
TOKEN = "fortigate-cell-token-Vb6Rt1Qm8Zx3"
OLD_KEY = "fortigate-cell-old-key-Kp2Ws9Dn4Hy7"
ROTATE = "Rotate this host's tunnel key"
# One stdout callback (json) and the two that write files (junit, tree) together.
FORTIOS_CALLBACKS = CallbackRun("ansible.posix.json+junit+tree",
                                callbacks_named("ansible.posix.json", "ansible.builtin.junit", "ansible.builtin.tree"))


def run_fortios_cell(emulator, workdir, verbosity=3):
    tunnel = next(t for t in emulator.tunnels() if t["name"] == TUNNEL)
    device = FortiGate(TOKEN, edge_key=lambda gw: emulator.edge_psk(tunnel["id"])
                       if gw == tunnel["cloudflare_endpoint"] else None)
    device.load("vpn.ipsec/phase1-interface", {"name": TUNNEL, "ike-version": "2", "psksecret": OLD_KEY,
                                               "remote-gw": tunnel["cloudflare_endpoint"], "interface": "wan1",
                                               "comments": "cloudflare.magic psk 2020-01-01T00:00:00Z"})
    folder = workdir / "callback-output"
    env = FORTIOS_CALLBACKS.environment(folder)
    with FortiGateServer(device, workdir / "fortigate") as server:
        runner = NetworkRoleRunner(workdir / "run", emulator, server, "fortinet.fortios.fortios", "admin", None,
                                   tunnel=TUNNEL, host_vars={
                                       "ansible_connection": "ansible.netcommon.httpapi",
                                       "ansible_httpapi_use_ssl": True, "ansible_httpapi_port": server.port,
                                       "ansible_httpapi_ca_path": server.ca_file,
                                       "ansible_httpapi_session_key": {"access_token": TOKEN},
                                       "tunnel_psk_ike_id": "branch.example.net", "tunnel_psk_verify_timeout": 4})
        runner.collections = os.pathsep.join((network_collections_path(), collections_path()))
        run = runner.run_role(verbosity=verbosity, env=env)
    secrets = [*emulator.generated_psks(), OLD_KEY, runner.token, TOKEN]

    def count(text):
        return sum(text.count(s) for s in secrets if s)
    in_force = emulator.edge_psk(tunnel["id"])
    return cells(FORTIOS_CALLBACKS, run, folder, count, saw_task(ROTATE), keys=len(emulator.generated_psks()),
                 echo_failed=False,
                 keys_ok=in_force is not None and device.phase1(TUNNEL).get("psksecret") == in_force)
