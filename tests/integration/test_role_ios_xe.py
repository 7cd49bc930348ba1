"""The tunnel_psk role on Cisco IOS XE, end to end: ansible-playbook drives cisco.ios's real terminal, cliconf
and modules over ansible.netcommon.network_cli (paramiko) to the router simulator of tests/devices, and the
Cloudflare API emulator holds the key in force. The platform comes from ansible_network_os (cisco.ios.ios).
"""

from __future__ import annotations

import os

import pytest

from cf_emulator import Emulator
from devices.ios_xe import IosXeRouter
from devices.sshcli import SshDeviceServer
from support.network_role import KilledRun, NetworkRoleRunner, older_collections_path, recap

pytestmark = pytest.mark.slow(reason=(
    "each test drives one to four whole role runs over network_cli (paramiko) against the IOS XE "
    "simulator: a persistent connection, configuration writes and the verification loop in each"))

TUNNEL = "tunnel_nyc_01"
KEYRING = "crypto ikev2 keyring CF_MAGIC_WAN_KEYRING"
PEER = "peer CF_MAGIC_WAN_TUNNEL_NYC_01"
PROFILE = "CF_MAGIC_WAN_TUNNEL_NYC_01"
USER, PASSWORD, ENABLE = "netops", "ssh-login-secret", "enable-secret"
OLD_KEY = "old-router-key-Zq9xWv3Lk7Pp2Ty8Rn4Hs6Jd1Mf5Cb0"


@pytest.fixture
def emulator(tmp_path):
    """psk_generate answers ipsec_id here: the router's IKE identity comes from it (the core's first fallback)."""
    emu = Emulator(tls=True, state_dir=str(tmp_path / "emulator"), psk_generate_ipsec_id=True).start()
    try:
        yield emu
    finally:
        emu.stop()


class Lab:
    """One router behind an SSH server, the emulator, and a way to run the role against them."""

    def __init__(self, emulator, workdir):
        self.emulator = emulator
        self.tunnel = next(t for t in emulator.tunnels() if t["name"] == TUNNEL)
        self.router = IosXeRouter(enable_password=ENABLE, edge_key=self.edge_key)
        self.far_end_key = None          # None: Cloudflare's key in force; else what the far end really holds
        self.on_negotiation = None       # called when the router negotiates (e.g. another run writes the router)
        self.edge_key_by_address = {self.tunnel["cloudflare_endpoint"]: self.tunnel["id"]}  # the far ends
        self.server = SshDeviceServer(self.router.session, USER, PASSWORD).start()
        self.runner = NetworkRoleRunner(workdir, emulator, self.server, "cisco.ios.ios", USER, PASSWORD, tunnel=TUNNEL,
                                        host_vars={"ansible_become": True, "ansible_become_method": "enable",
                                                   "ansible_become_password": ENABLE, "tunnel_psk_verify": True,
                                                   "tunnel_psk_verify_timeout": 4,
                                                   # psk_generate's published answer has no ipsec_id: the role asks
                                                   # for the identity before it rotates.
                                                   "tunnel_psk_ike_id": emulator.ipsec_id(self.tunnel["id"]),
                                                   "tunnel_psk_ios_xe_tunnel_source": "203.0.113.10"})

    def edge_key(self, address):
        tunnel_id = self.edge_key_by_address.get(address)
        if tunnel_id is None:
            return None
        if self.on_negotiation:
            self.on_negotiation()
        return self.far_end_key or self.emulator.edge_psk(tunnel_id)

    def edge_stamp(self):
        return self.emulator.tunnel(self.tunnel["id"]).get("psk_metadata", {}).get("last_generated_on")

    def preload(self, key=OLD_KEY, stamp="2020-01-01T00:00:00Z"):
        """The router as a previous hand-off left it: the whole tunnel, with ``key`` and a stamp (or none)."""
        endpoint = self.tunnel["cloudflare_endpoint"]
        description = f"  description cloudflare.magic psk {stamp}\n" if stamp else ""
        self.router.load(f"""crypto ikev2 keyring CF_MAGIC_WAN_KEYRING
 peer CF_MAGIC_WAN_TUNNEL_NYC_01
{description}  address {endpoint}
  pre-shared-key {key}
crypto ikev2 profile {PROFILE}
 match identity remote address {endpoint} 255.255.255.255
 identity local fqdn router.example.net
 authentication remote pre-share
 authentication local pre-share
 keyring local CF_MAGIC_WAN_KEYRING
crypto ipsec profile {PROFILE}
 set ikev2-profile {PROFILE}
interface Tunnel1
 ip address 10.252.2.27 255.255.255.254
 tunnel source 203.0.113.10
 tunnel mode ipsec ipv4
 tunnel destination {endpoint}
 tunnel protection ipsec profile {PROFILE}
""")

    def run(self, *args, become=True, verbosity=0, registered=False):
        post_tasks = []
        if registered:  # print every vendor result the platform files registered (the leak check greps it)
            post_tasks = [{"name": "Show the registered vendor results", "ansible.builtin.debug": {
                "msg": "{{ query('ansible.builtin.varnames', '^__tunnel_psk_ios_xe_') | map('extract', vars) }}"}}]
        self.emulator.clear_requests()
        lines_before = len(self.router.lines)
        run = self.runner.run_role(*args, host_vars=None if become else {"ansible_become": False},
                                   post_tasks=post_tasks, verbosity=verbosity)
        run.posts = sum(1 for r in self.emulator.requests if r.method == "POST")
        run.sent = self.router.lines[lines_before:]
        run.changed = recap(run)["changed"] if "PLAY RECAP" in run.stdout else None
        return run

    def peer(self):
        return self.router.children(KEYRING, PEER)

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
    key, stamp = lab.emulator.edge_psk(lab.tunnel["id"]), lab.edge_stamp()
    wanted = [f"description cloudflare.magic psk {stamp}", f"address {lab.tunnel['cloudflare_endpoint']}",
              f"pre-shared-key {key}"]
    return key is not None and lab.peer() == wanted


def test_hand_off_writes_key_stamp_and_the_guides_tunnel_and_a_second_run_changes_nothing(lab):
    first = lab.run()
    assert first.returncode == 0, first.stdout[-4000:]
    assert first.posts == 1
    assert holds_key_in_force(lab), lab.router.running_config()
    endpoint = lab.tunnel["cloudflare_endpoint"]
    router = lab.router
    # Cloudflare's IOS XE guide: IKEv2 proposal and policy, profile with identities, IPsec profile, VTI.
    assert router.children("crypto ikev2 proposal CF_MAGIC_WAN_IKEV2_PROPOSAL") == [
        "encryption aes-cbc-256", "integrity sha512 sha384 sha256", "group 20"]
    assert router.children("crypto ikev2 policy CF_MAGIC_WAN_IKEV2_POLICY") == [
        "match fvrf any", "proposal CF_MAGIC_WAN_IKEV2_PROPOSAL"]
    fqdn_id = lab.emulator.ipsec_id(lab.tunnel["id"])
    assert router.children(f"crypto ikev2 profile {PROFILE}") == [
        f"match identity remote address {endpoint} 255.255.255.255", f"identity local fqdn {fqdn_id}",
        "authentication remote pre-share", "authentication local pre-share",
        "keyring local CF_MAGIC_WAN_KEYRING", "no config-exchange request"]
    assert router.children(f"crypto ipsec profile {PROFILE}") == [
        "set security-association lifetime kilobytes disable", "set security-association replay disable",
        "set pfs group20", f"set ikev2-profile {PROFILE}"]
    assert router.children("interface Tunnel1") == [
        "ip address 10.252.2.27 255.255.255.254", "ip mtu 1450", "ip tcp adjust-mss 1350",
        "tunnel source 203.0.113.10", "tunnel mode ipsec ipv4", f"tunnel destination {endpoint}",
        "tunnel path-mtu-discovery", f"tunnel protection ipsec profile {PROFILE}"]
    assert router.startup == router.running_config(), "the configuration was not saved"
    assert f"clear crypto session remote {endpoint}" in first.sent
    assert router.session_state(endpoint)[1] == "UP-ACTIVE"
    # The key went with a pending stamp in one configuration session; after the session came up, a second one
    # (without the key) switched the stamp to in force.
    assert first.sent.count("configure terminal") == 2
    stamp = lab.edge_stamp()
    key_line = f"pre-shared-key {lab.emulator.edge_psk(lab.tunnel['id'])}"
    pending, in_force = (f"description cloudflare.magic psk pending {stamp}", f"description cloudflare.magic psk {stamp}")
    show = f"show crypto session remote {endpoint} detail"
    assert first.sent.index(key_line) < first.sent.index(pending) < first.sent.index(show) < first.sent.index(in_force)
    second_session = first.sent[first.sent.index("configure terminal", first.sent.index(pending)):]
    assert not any(line.startswith("pre-shared-key") for line in second_session)

    second = lab.run()
    assert second.returncode == 0, second.stdout[-4000:]
    assert (second.posts, second.changed) == (0, 0)
    assert "configure terminal" not in second.sent
    assert holds_key_in_force(lab)


@pytest.mark.parametrize("stamp", ["2020-01-01T00:00:00Z", None], ids=["stale_stamp", "no_stamp"])
def test_a_stale_or_missing_stamp_rotates_and_repairs(lab, stamp):
    lab.preload(stamp=stamp)
    endpoint = lab.tunnel["cloudflare_endpoint"]
    lab.far_end_key = OLD_KEY                 # the IKE SA is up on the old key, as on a router in service
    assert lab.router.session_state(endpoint)[1] == "UP-ACTIVE"
    lab.far_end_key = None
    run = lab.run()
    assert run.returncode == 0, run.stdout[-4000:]
    assert run.posts == 1
    assert holds_key_in_force(lab), lab.router.running_config()
    # The role made the router renegotiate, so the session it verified was authenticated with the new key.
    assert lab.router.established[endpoint] == lab.emulator.edge_psk(lab.tunnel["id"])
    assert lab.run().posts == 0


def test_a_router_configured_by_the_earlier_example_playbook_keeps_its_key(lab):
    """docs/examples/rotate_and_configure_ios_xe.yml wrote `cloudflare.magic <tunnel> psk <stamp>`: a job that
    switches to the role must not rotate a key the router holds."""
    assert lab.run().returncode == 0
    lab.router.load(f"{KEYRING}\n {PEER}\n  description cloudflare.magic {TUNNEL} psk {lab.edge_stamp()}\n")
    run = lab.run()
    assert run.returncode == 0, run.stdout[-4000:]
    assert (run.posts, run.changed) == (0, 0)


def test_an_unreachable_router_fails_before_anything_rotates(lab):
    lab.server.refuse = True
    run = lab.run()
    assert run.returncode != 0
    assert "IOS XE | Reach the router" in run.stdout
    assert run.posts == 0, "a key was rotated for a router that cannot receive it"


def test_a_session_below_privilege_15_fails_before_anything_rotates(lab):
    run = lab.run(become=False)
    assert run.returncode != 0
    assert "not at privilege level 15" in run.stdout
    assert run.posts == 0
    assert "configure terminal" not in run.sent


@pytest.mark.slow(reason="two whole role runs over network_cli; the first waits out the verification loop "
                         "(tunnel_psk_verify_timeout 4 s, polled every 3 s) before it marks the stamp unverified")
def test_a_failed_verification_marks_the_stamp_unverified_and_the_next_run_repairs(lab):
    lab.far_end_key = "the-far-end-holds-another-key-than-cloudflare-said"
    failed = lab.run()
    assert failed.returncode != 0
    assert "the next run rotates the key and repairs the router" in failed.stdout
    assert "description cloudflare.magic psk unverified" in lab.peer()
    assert lab.router.startup == lab.router.running_config()

    assert failed.hits(lab.emulator.edge_psk(lab.tunnel["id"])) == 0

    lab.far_end_key = None
    repaired = lab.run()
    assert repaired.returncode == 0, repaired.stdout[-4000:]
    assert repaired.posts == 1
    assert holds_key_in_force(lab)


def test_a_newer_run_that_wrote_the_router_meanwhile_fails_this_run_and_keeps_its_stamp(lab):
    newer = "2099-01-01T00:00:00Z"

    def another_run_writes_the_router():   # while this run verifies, an overlapping run hands on its key
        lab.on_negotiation = None
        lab.router.load(f"{KEYRING}\n {PEER}\n  description cloudflare.magic psk {newer}\n")

    lab.on_negotiation = another_run_writes_the_router
    run = lab.run()
    assert run.returncode != 0
    assert "a newer run wrote after this one" in run.stdout
    assert f"description cloudflare.magic psk {newer}" in lab.peer(), "the newer run's stamp was overwritten"
    assert run.posts == 1


def test_a_configuration_the_router_refuses_fails_the_run_without_showing_the_key(lab):
    lab.preload()
    run = lab.run("-e", "tunnel_psk_ios_xe_tunnel_source=300.1.1.1", verbosity=3)
    assert run.returncode != 0
    assert "the next run rotates the key and repairs the router" in run.stdout
    key = lab.emulator.edge_psk(lab.tunnel["id"])
    # The key went over (its line comes before the refused one); the stamp is marked unverified, so the
    # next run rotates.
    assert f"pre-shared-key {key}" in lab.peer() and "description cloudflare.magic psk unverified" in lab.peer()
    assert run.hits(key, OLD_KEY) == 0


def test_no_key_in_any_output_channel(lab):
    lab.preload()
    run = lab.run(verbosity=3, registered=True)
    assert run.returncode == 0, run.stdout[-4000:]
    new_key = lab.emulator.edge_psk(lab.tunnel["id"])
    assert f"pre-shared-key {new_key}" in lab.router.lines, "the router never got the key (the test proves nothing)"
    assert "Show the registered vendor results" in run.stdout
    assert run.hits(new_key, OLD_KEY, PASSWORD, ENABLE) == 0


def test_check_mode_shows_the_change_with_the_key_masked_and_sends_nothing(lab):
    lab.preload()
    key_before = lab.emulator.edge_psk(lab.tunnel["id"])
    config_before = lab.router.running_config()
    run = lab.run("--check", "--diff")
    assert run.returncode == 0, run.stdout[-4000:]
    # The commands ios_config would send (its own flat form), as a diff.
    assert "+peer CF_MAGIC_WAN_TUNNEL_NYC_01\n+pre-shared-key ********\n" in run.stdout
    assert "configure terminal" not in run.sent
    assert lab.router.running_config() == config_before
    assert lab.emulator.edge_psk(lab.tunnel["id"]) == key_before
    assert run.hits(OLD_KEY, key_before) == 0


def test_a_run_killed_before_the_stamp_switch_leaves_it_pending_and_the_next_run_repairs(lab):
    """SIGKILL to ansible-playbook while the session with Cloudflare renegotiates (after the key was written):
    no rescue runs, so no stamp may say "in force" yet; the next run reads `pending` as none and repairs."""
    lab.preload()
    killed = KilledRun(lab.runner)
    lab.on_negotiation = killed.kill
    run = killed.wait()
    lab.on_negotiation = None
    assert killed.killed, run.stdout[-3000:]
    assert f"description cloudflare.magic psk pending {lab.edge_stamp()}" in lab.peer()
    repaired = lab.run()
    assert repaired.returncode == 0, repaired.stdout[-4000:]
    assert repaired.posts == 1, "the pending stamp did not make the next run rotate"
    assert holds_key_in_force(lab), lab.router.running_config()
    endpoint = lab.tunnel["cloudflare_endpoint"]
    assert lab.router.established[endpoint] == lab.emulator.edge_psk(lab.tunnel["id"])
    assert run.hits(lab.emulator.edge_psk(lab.tunnel["id"]), OLD_KEY) == 0


def test_a_second_tunnel_on_the_same_router_gets_its_own_interface_or_is_refused(lab):
    """Two tunnels of one router are two hosts with one ansible_host. The second may not take the first's
    tunnel interface (the default Tunnel1): refused before anything rotates; with Tunnel2 both end healthy."""
    assert lab.run().returncode == 0
    second = next(t for t in lab.emulator.tunnels() if t["name"] == f"{TUNNEL}b")
    lab.far_end_key = None
    lab.edge_key_by_address = {t["cloudflare_endpoint"]: t["id"] for t in (lab.tunnel, second)}
    refused = lab.run("-e", f"tunnel_psk_tunnel_name={second['name']}")
    assert refused.returncode != 0
    assert f"Tunnel1 on router1 is protected by the IPsec profile {PROFILE}, another tunnel's" in refused.stdout, \
        refused.stdout[-3000:]
    assert refused.posts == 0 and "configure terminal" not in refused.sent
    both = lab.run("-e", f"tunnel_psk_tunnel_name={second['name']}", "-e", "tunnel_psk_ios_xe_tunnel_interface=Tunnel2")
    assert both.returncode == 0, both.stdout[-4000:]
    again = lab.run()
    assert (again.returncode, again.posts) == (0, 0), "the first tunnel lost its key in force"
    assert holds_key_in_force(lab)
    second_profile = f"CF_MAGIC_WAN_{second['name'].upper()}"
    assert f"tunnel protection ipsec profile {PROFILE}" in lab.router.children("interface Tunnel1")
    assert f"tunnel protection ipsec profile {second_profile}" in lab.router.children("interface Tunnel2")
    stamp = lab.emulator.tunnel(second["id"])["psk_metadata"]["last_generated_on"]
    assert f"description cloudflare.magic psk {stamp}" in lab.router.children(KEYRING, f"peer {second_profile}")
    assert lab.router.session_state(second["cloudflare_endpoint"])[1] == "UP-ACTIVE"


def test_a_cisco_ios_older_than_the_role_needs_is_refused_before_anything_rotates(lab):
    """cisco.ios of the `ansible` 11 package (9.x) has no ios_config content option: every run would rotate,
    then fail the hand-off. The preflight names the collection and the version needed; nothing is sent."""
    lab.runner.collections = os.pathsep.join((older_collections_path(), lab.runner.collections))
    run = lab.run()
    assert run.returncode != 0
    assert "needs the collection cisco.ios 11.4.0 or later" in run.stdout, run.stdout[-3000:]
    assert "this controller loads cisco.ios 9." in run.stdout and "nothing was rotated" in run.stdout
    assert run.posts == 0 and run.sent == []


def test_platform_ios_is_taken_for_ios_xe_as_ansible_network_os_takes_it(lab):
    lab.runner.host_vars["tunnel_psk_platform"] = "ios"
    run = lab.run()
    assert run.returncode == 0, run.stdout[-3000:]
    assert run.posts == 1 and holds_key_in_force(lab)


def test_without_verification_the_stamp_is_still_read_again_before_the_switch(lab):
    """tunnel_psk_verify false: the session is neither cleared nor waited for, but the task that would wait for it
    still reads the stamp again, after the key's session and before the switch (where a newer run's write would
    show)."""
    run = lab.run("-e", '{"tunnel_psk_verify": false}')
    assert run.returncode == 0, run.stdout[-4000:]
    assert holds_key_in_force(lab), "the router does not hold the key in force"
    assert not any(line.startswith(("clear crypto session", "show crypto session")) for line in run.sent)
    stamp = lab.edge_stamp()
    pending, in_force = f"description cloudflare.magic psk pending {stamp}", f"description cloudflare.magic psk {stamp}"
    assert pending in run.sent and in_force in run.sent, run.stdout[-3000:]
    read = "show running-config | include ^crypto ikev2 |^ peer |^  description"
    assert read in run.sent[run.sent.index(pending):run.sent.index(in_force)], \
        "the stamp was not read again between the key's session and the switch"
