"""The tunnel_psk role on a FortiGate, end to end: ansible-playbook drives fortinet.fortios's real httpapi plugin
and modules over ansible.netcommon.httpapi (HTTPS, an API token from the inventory) to the FortiOS REST API
simulator of tests/devices, and the Cloudflare API emulator holds the key in force. The platform comes from
ansible_network_os (fortinet.fortios.fortios).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cf_emulator import Emulator
from devices.fortios import FortiGate, FortiGateServer
from support.network_role import NetworkRoleRunner, recap

pytestmark = pytest.mark.slow(reason=(
    "each test drives one to three whole role runs over httpapi against the FortiGate simulator: a "
    "persistent connection, PUTs and the verification loop in each"))

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "rotate_and_configure_fortios.yml"
TUNNEL = "tunnel_nyc_01"
PHASE1 = "vpn.ipsec/phase1-interface"
TOKEN = "fortigate-api-token-Hq7Zr2Lx9Wc4Nv"
OLD_KEY = "old-fortigate-key-Zq9xWv3Lk7Pp2Ty8Rn4Hs6Jd1"
OLD_STAMP = "2020-01-01T00:00:00Z"


@pytest.fixture
def emulator(tmp_path):
    """psk_generate answers ipsec_id here: the router's IKE identity comes from it."""
    emu = Emulator(tls=True, state_dir=str(tmp_path / "emulator"), psk_generate_ipsec_id=True).start()
    try:
        yield emu
    finally:
        emu.stop()


class Lab:
    """One FortiGate behind HTTPS, the emulator, and a way to run the role against them."""

    def __init__(self, emulator, workdir):
        self.emulator = emulator
        self.tunnel = next(t for t in emulator.tunnels() if t["name"] == TUNNEL)
        self.far_end_key = None  # None: Cloudflare's key in force; else what the far end really holds
        self.device = FortiGate(TOKEN, edge_key=self.edge_key)
        self.server = FortiGateServer(self.device, workdir / "fortigate").start()
        self.runner = NetworkRoleRunner(workdir, emulator, self.server, "fortinet.fortios.fortios", "admin", None,
                                        tunnel=TUNNEL, host_vars=self.connection(TOKEN))

    def connection(self, token, vdom="root"):
        return {"ansible_connection": "ansible.netcommon.httpapi", "ansible_httpapi_use_ssl": True,
                "ansible_httpapi_port": self.server.port, "ansible_httpapi_validate_certs": True,
                "ansible_httpapi_ca_path": self.server.ca_file,
                "ansible_httpapi_session_key": {"access_token": token},
                "tunnel_psk_fortios_vdom": vdom, "tunnel_psk_verify_timeout": 4,
                # The published tunnel answer has no identity: give it, as a user copies it from the dashboard.
                "tunnel_psk_ike_id": self.emulator.ipsec_id(self.tunnel["id"])}

    def edge_key(self, remote_gw):
        return (self.far_end_key or self.emulator.edge_psk(self.tunnel["id"])
                if remote_gw == self.tunnel["cloudflare_endpoint"] else None)

    def edge_stamp(self):
        return self.emulator.tunnel(self.tunnel["id"]).get("psk_metadata", {}).get("last_generated_on")

    def preload(self, key=OLD_KEY, comments=f"cloudflare.magic psk {OLD_STAMP}"):
        """The FortiGate as an earlier hand-off left it: phase 1 with ``key`` and ``comments``, and phase 2."""
        self.device.load(PHASE1, {"name": TUNNEL, "ike-version": "2", "remote-gw": self.tunnel["cloudflare_endpoint"],
                                  "interface": "wan1", "psksecret": key, "comments": comments})
        self.device.load("vpn.ipsec/phase2-interface",
                         {"name": TUNNEL, "phase1name": TUNNEL, "auto-negotiate": "enable"})

    def run(self, *args, verbosity=0, registered=False, host_vars=None, env=None):
        post_tasks = []
        if registered:  # print every vendor result the platform files registered (the leak check greps it)
            post_tasks = [{"name": "Show the registered vendor results", "ansible.builtin.debug": {
                "msg": "{{ query('ansible.builtin.varnames', '^__tunnel_psk_fortios_') | map('extract', vars) }}"}}]
        self.emulator.clear_requests()
        before = len(self.device.requests)
        run = self.runner.run_role(*args, host_vars=host_vars, post_tasks=post_tasks, verbosity=verbosity, env=env)
        run.posts = sum(1 for r in self.emulator.requests if r.method == "POST")
        run.requests = self.device.requests[before:]
        run.writes = [r for r in run.requests if r[0] in ("PUT", "POST", "DELETE") and "/cmdb/" in r[1]]
        run.changed = recap(run)["changed"] if "PLAY RECAP" in run.stdout else None
        return run

    def phase1(self):
        return self.device.phase1(TUNNEL)

    def stop(self):
        self.server.stop()


@pytest.fixture
def lab(emulator, tmp_path):
    lab = Lab(emulator, tmp_path / "run")
    try:
        yield lab
    finally:
        lab.stop()


def holds_key_in_force(lab):
    key = lab.emulator.edge_psk(lab.tunnel["id"])
    return key is not None and (lab.phase1().get("psksecret"), lab.phase1().get("comments")) == (
        key, f"cloudflare.magic psk {lab.edge_stamp()}")


def test_hand_off_writes_key_stamp_and_the_guides_tunnel_and_a_second_run_changes_nothing(lab):
    first = lab.run()
    assert first.returncode == 0, first.stdout[-4000:]
    assert first.posts == 1
    assert holds_key_in_force(lab), lab.phase1()
    p1, device = lab.phase1(), lab.device
    # Cloudflare's FortiGate guide: phase 1, the tunnel interface's /31 and phase 2.
    assert {k: p1[k] for k in ("type", "interface", "ike-version", "remote-gw", "authmethod", "peertype", "localid",
                               "proposal", "dhgrp", "keylife", "net-device", "add-gw-route", "nattraversal")} == {
        "type": "static", "interface": "wan1", "ike-version": "2",
        "remote-gw": lab.tunnel["cloudflare_endpoint"], "authmethod": "psk", "peertype": "any",
        "localid": lab.emulator.ipsec_id(lab.tunnel["id"]),
        "proposal": "aes256gcm-prfsha512 aes256gcm-prfsha384 aes256gcm-prfsha256", "dhgrp": "20",
        "keylife": 86400, "net-device": "enable", "add-gw-route": "enable", "nattraversal": "disable"}
    assert device.phase2(TUNNEL) == {
        "name": TUNNEL, "phase1name": TUNNEL, "proposal": "aes256gcm aes128gcm", "dhgrp": "20", "pfs": "enable",
        "replay": "disable", "keylifeseconds": 28800, "auto-negotiate": "enable", "keepalive": "enable"}
    interface = device.interface(TUNNEL)
    assert (interface["type"], interface["ip"], interface["remote-ip"]) == (
        "tunnel", "10.252.2.27 255.255.255.255", "10.252.2.26 255.255.255.254")
    # The key went in one POST with its pending stamp, then the stamp switched by a PUT without the key.
    phase1_writes = [r for r in first.writes if "/phase1-interface" in r[1]]
    assert [write[0] for write in phase1_writes] == ["POST", "PUT"]
    assert ("POST", "/api/v2/monitor/vpn/ipsec/tunnel_up?vdom=root") in first.requests
    assert device.established[TUNNEL] == lab.emulator.edge_psk(lab.tunnel["id"])

    second = lab.run()
    assert second.returncode == 0, second.stdout[-4000:]
    assert (second.posts, second.changed, second.writes) == (0, 0, [])
    assert holds_key_in_force(lab)


@pytest.mark.parametrize("comments", [
    f"cloudflare.magic psk {OLD_STAMP}", "", "cloudflare.magic psk pending {edge}", "cloudflare.magic psk unverified",
], ids=["stale", "missing", "pending", "unverified"])
def test_a_stale_missing_pending_or_unverified_stamp_rotates_and_repairs(lab, comments):
    lab.preload(comments=comments.format(edge=lab.edge_stamp()))
    lab.far_end_key = OLD_KEY
    lab.device.answer("GET", "/api/v2/monitor/vpn/ipsec", {"Authorization": f"Bearer {TOKEN}"}, b"")
    assert lab.device.established[TUNNEL] == OLD_KEY  # the tunnel is up on the old key, as in service
    lab.far_end_key = None
    run = lab.run()
    assert run.returncode == 0, run.stdout[-4000:]
    assert run.posts == 1
    assert holds_key_in_force(lab), lab.phase1()
    # The role made the FortiGate renegotiate, so the SA it verified was authenticated with the new key.
    assert lab.device.established[TUNNEL] == lab.emulator.edge_psk(lab.tunnel["id"])


@pytest.mark.parametrize("what", ["refused", "wrong_token", "unknown_vdom"])
def test_an_unreachable_or_refusing_fortigate_fails_before_anything_rotates(lab, what):
    host_vars = None
    if what == "refused":
        lab.server.refuse = True
    elif what == "wrong_token":
        host_vars = lab.connection("not-the-token")
    else:
        host_vars = lab.connection(TOKEN, vdom="branch7")
    run = lab.run(host_vars=host_vars)
    assert run.returncode != 0
    assert "did not answer the REST API" in run.stdout and "nothing was rotated" in run.stdout, run.stdout[-3000:]
    assert run.posts == 0, "a key was rotated for a FortiGate that cannot receive it"
    assert lab.device.writes() == []
    assert run.hits(TOKEN, "not-the-token") == 0


def test_a_failed_verification_marks_the_stamp_unverified_and_the_next_run_repairs(lab):
    lab.far_end_key = "the-far-end-holds-another-key-than-cloudflare-said"
    failed = lab.run()
    assert failed.returncode != 0
    assert "the next run rotates and repairs the FortiGate" in failed.stdout
    assert "its stamp is marked unverified" in failed.stdout
    assert lab.phase1()["comments"] == "cloudflare.magic psk unverified"
    assert failed.hits(lab.emulator.edge_psk(lab.tunnel["id"])) == 0

    lab.far_end_key = None
    repaired = lab.run()
    assert repaired.returncode == 0, repaired.stdout[-4000:]
    assert repaired.posts == 1
    assert holds_key_in_force(lab)


def test_a_newer_run_that_wrote_the_fortigate_meanwhile_fails_this_run_and_keeps_its_stamp(lab):
    newer = "cloudflare.magic psk 2099-01-01T00:00:00Z"

    def another_run_writes_the_fortigate():  # while this run verifies, an overlapping run hands on its key
        lab.device.on_negotiation = None
        lab.device.load(PHASE1, {"name": TUNNEL, "comments": newer})

    lab.device.on_negotiation = another_run_writes_the_fortigate
    run = lab.run()
    assert run.returncode != 0
    assert "a newer run wrote after this one" in run.stdout
    assert lab.phase1()["comments"] == newer, "the newer run's stamp was overwritten"
    assert run.posts == 1


def test_check_mode_shows_the_change_with_the_key_masked_and_sends_nothing(lab):
    lab.preload()
    key_before = lab.emulator.edge_psk(lab.tunnel["id"])
    run = lab.run("--check", "--diff")
    assert run.returncode == 0, run.stdout[-4000:]
    assert '-    "psksecret": "(the key the FortiGate holds)"' in run.stdout, run.stdout[-4000:]
    assert '+    "psksecret": "********"' in run.stdout
    assert '+    "comments": "cloudflare.magic psk pending (the new key, generated by this run)"' in run.stdout
    assert lab.device.writes() == []
    assert lab.phase1()["psksecret"] == OLD_KEY
    assert lab.emulator.edge_psk(lab.tunnel["id"]) == key_before
    assert run.hits(OLD_KEY, key_before, TOKEN, "ENC ") == 0


def test_the_example_hands_the_key_on_and_no_key_shows_in_any_output_channel(lab):
    """docs/examples/rotate_and_configure_fortios.yml as a network team runs it (its own group and extra vars), at
    -vvvv with every registered vendor result printed: neither key, nor the token, in stdout, stderr or log_path."""
    lab.preload()
    lab.runner.group = "fortigates"
    post = {"name": "Show the registered vendor results", "hosts": "fortigates", "gather_facts": False, "tasks": [
        {"ansible.builtin.debug": {"msg": "{{ query('ansible.builtin.varnames', '^__tunnel_psk_fortios_')"
                                          " | map('extract', vars) }}"}}]}
    playbook = lab.runner.write("example.yml", [{"ansible.builtin.import_playbook": str(EXAMPLE)}, post])
    run = lab.runner.run_playbook(playbook, "-e", json.dumps({
        "magic_wan_tunnel_name": TUNNEL, "fortios_wan_interface": "port1", "psk_max_age": "30d",
        "cloudflare_ca_path": lab.emulator.ca_file, "router_ike_id": lab.emulator.ipsec_id(lab.tunnel["id"])}),
        verbosity=4)
    assert run.returncode == 0, run.stdout[-4000:]
    new_key = lab.emulator.edge_psk(lab.tunnel["id"])
    assert holds_key_in_force(lab) and lab.phase1()["interface"] == "port1", lab.phase1()
    assert "Show the registered vendor results" in run.stdout and '"proxyid"' in run.stdout
    assert run.hits(new_key, OLD_KEY, TOKEN) == 0
