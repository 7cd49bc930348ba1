"""The tunnel_psk role on a Juniper SRX, end to end: ansible-playbook -> ansible.netcommon.netconf (ncclient) ->
junipernetworks.junos's netconf plugin, junos_command and junos_config -> a NETCONF-over-SSH server playing an
SRX (tests/devices/junos.py), with the key rotated at the emulator. The SRX's IKE SA is up only when its key is
the emulator's key in force."""

from __future__ import annotations

import pytest

from devices.junos import JunosDevice, encrypted
from devices.netconf import NetconfServer
from support.network_role import NetworkRoleRunner, posts, recap

pytestmark = pytest.mark.slow(reason=(
    "each test drives one to three whole role runs over NETCONF against the SRX simulator: a persistent "
    "connection, commit confirmed and the verification loop in each"))

TUNNEL = "tunnel_nyc_01"
DEVICE_USER, DEVICE_PASSWORD = "netops", "device-login-9Tq4"
NAME = f"CF_{TUNNEL}"
POLICY = ("security", "ike", "policy", NAME)
GATEWAY = ("security", "ike", "gateway", NAME)
KEY = POLICY + ("pre-shared-key", "ascii-text")
DESCRIPTION = POLICY + ("description",)

# Every result the role registers from a vendor module, printed after the role: none may hold a key.
SHOW_REGISTERED = [{"name": f"Show {name}", "ansible.builtin.debug": {"var": name}} for name in (
    "__tunnel_psk_junos_preflight", "__tunnel_psk_junos_check", "__tunnel_psk_junos_sa",
    "__tunnel_psk_junos_stamp_now", "__tunnel_psk_junos_mark")]


@pytest.fixture
def tunnel(emulator):
    return next(t for t in emulator.tunnels() if t["name"] == TUNNEL)


@pytest.fixture
def device(emulator, tunnel):
    """An SRX whose far end is the emulator: its IKE SA is up only with the key in force there."""
    return JunosDevice("srx-nyc", edge_key=lambda address: emulator.edge_psk(tunnel["id"])
                       if address == tunnel["cloudflare_endpoint"] else None)


@pytest.fixture
def server(device):
    with NetconfServer(lambda: device, DEVICE_USER, DEVICE_PASSWORD) as running:
        yield running


class NetconfRoleRunner(NetworkRoleRunner):
    """Every run has log_path (the runner's) and, as the role asks, ncclient in log_filter."""

    def environment(self, **extra):
        return super().environment(**{"ANSIBLE_LOG_FILTER": "ncclient", **extra})


@pytest.fixture
def runner(tmp_path, emulator, server, tunnel):
    # The platform from ansible_network_os, over NETCONF as junipernetworks.junos runs junos_config.
    return NetconfRoleRunner(tmp_path / "run", emulator, server, "junipernetworks.junos.junos", DEVICE_USER,
                             DEVICE_PASSWORD, tunnel=TUNNEL,
                             host_vars={"ansible_connection": "ansible.netcommon.netconf",
                                        "tunnel_psk_ike_id": emulator.ipsec_id(tunnel["id"])})


def _seed(device, key, stamp):
    """An SRX that already holds a key (a backup, an earlier run) and, unless None, a description."""
    device.running = [KEY + (key,)] + ([DESCRIPTION + (f"cloudflare.magic psk {stamp}",)] if stamp else [])
    device.candidate = list(device.running)


def _holds_key_in_force(device, emulator, tunnel):
    """A bool, so that a failing assertion prints no key."""
    return device.leaf(*KEY) == emulator.edge_psk(tunnel["id"])


def _stamp(emulator, tunnel):
    return emulator.tunnel(tunnel["id"])["psk_metadata"]["last_generated_on"]


def _assert_no_key(run, emulator, *more):
    """No key the emulator ever answered (in clear or as the SRX shows it, $9$...), nor the device login, in
    anything the run printed or logged; the count only, so that a failure prints no key."""
    keys = emulator.generated_psks()
    found = run.hits(*keys, *(encrypted(k) for k in keys), DEVICE_PASSWORD, *more)
    assert found == 0, f"{found} occurrence(s) of a key or credential in the run's output"


def test_hand_off_then_a_second_run_then_check_mode(runner, emulator, tunnel, device):
    """A fresh SRX (no stamp): the key in force with its stamp and the guide's parameters, in a confirmed commit
    confirmed by the stamp's switch; a second run changes nothing; check mode lists only what would change,
    every key masked, and changes nothing."""
    run = runner.run_role()
    assert run.returncode == 0, run.stdout[-4000:]
    assert _holds_key_in_force(device, emulator, tunnel), "the SRX does not hold the key in force"
    assert device.leaf(*DESCRIPTION) == f"cloudflare.magic psk {_stamp(emulator, tunnel)}"
    assert [c["confirmed"] for c in device.commits] == [True, False], device.commits
    assert device.commits[0]["timeout"] == "10" and device.confirm_restore is None
    assert device.commits[0]["log"] == f"cloudflare.magic psk {_stamp(emulator, tunnel)}"
    # Cloudflare's SRX guide: IKEv2 only, AES-256-CBC/SHA-256/group 20 and 28800 s for IKE and IPsec, PFS
    # group 20, the VPN bound to st0.1 with no anti-replay, established at once, the FQDN identity.
    config = {" ".join(line) for line in device.running}
    expected = {
        "security ike proposal CF_IKE_PROPOSAL authentication-method pre-shared-keys",
        "security ike proposal CF_IKE_PROPOSAL dh-group group20",
        "security ike proposal CF_IKE_PROPOSAL authentication-algorithm sha-256",
        "security ike proposal CF_IKE_PROPOSAL encryption-algorithm aes-256-cbc",
        "security ike proposal CF_IKE_PROPOSAL lifetime-seconds 28800",
        f"security ike policy {NAME} mode main",
        f"security ike policy {NAME} proposals CF_IKE_PROPOSAL",
        f"security ike gateway {NAME} ike-policy {NAME}",
        f"security ike gateway {NAME} address {tunnel['cloudflare_endpoint']}",
        f"security ike gateway {NAME} local-identity hostname {emulator.ipsec_id(tunnel['id'])}",
        f"security ike gateway {NAME} local-address {tunnel['customer_endpoint']}",
        f"security ike gateway {NAME} version v2-only",
        "security ipsec proposal CF_IPSEC_PROPOSAL protocol esp",
        "security ipsec proposal CF_IPSEC_PROPOSAL authentication-algorithm hmac-sha-256-128",
        "security ipsec proposal CF_IPSEC_PROPOSAL encryption-algorithm aes-256-cbc",
        "security ipsec proposal CF_IPSEC_PROPOSAL lifetime-seconds 28800",
        "security ipsec policy CF_IPSEC_POLICY perfect-forward-secrecy keys group20",
        f"security ipsec vpn {NAME} bind-interface st0.1",
        f"security ipsec vpn {NAME} ike gateway {NAME}",
        f"security ipsec vpn {NAME} ike no-anti-replay",
        f"security ipsec vpn {NAME} establish-tunnels immediately",
        "security flow tcp-mss ipsec-vpn mss 1360",
        # interface_address 10.252.2.26/31 is Cloudflare's side; the SRX takes the other address.
        "interfaces st0 unit 1 family inet address 10.252.2.27/31",
    }
    assert expected <= config, sorted(expected - config)
    assert "command: show security ike security-associations" in device.requests, "the hand-off was not verified"
    assert posts(emulator) == 1
    _assert_no_key(run, emulator)

    commits, sent = len(device.commits), len(device.requests)
    again = runner.run_role()
    assert again.returncode == 0, again.stdout[-4000:]
    assert posts(emulator) == 1, "an SRX that holds the key in force made the run rotate"
    assert recap(again)["changed"] == 0, again.stdout[-3000:]
    assert len(device.commits) == commits
    assert not {"lock", "load-configuration", "commit-configuration"} & set(device.requests[sent:])

    key, running = emulator.edge_psk(tunnel["id"]), list(device.running)
    check = runner.run_role("--check", "--diff", verbosity=2, post_tasks=SHOW_REGISTERED,
                            host_vars={"tunnel_psk_max_age": "1s", "tunnel_psk_allow_short_max_age": True})
    assert check.returncode == 0, check.stdout[-3000:]
    unchanged = emulator.edge_psk(tunnel["id"]) == key
    assert unchanged, "check mode rotated the key"
    untouched = device.running == running and device.candidate == running and len(device.commits) == commits
    assert untouched, "check mode changed the SRX's configuration"
    assert "discard-changes" in device.requests
    assert f"[edit security ike policy {NAME}]" in check.stdout, check.stdout[-3000:]
    assert '+   pre-shared-key ascii-text \\"********\\"; ## SECRET-DATA' in check.stdout, check.stdout[-3000:]
    assert '-   pre-shared-key ascii-text \\"********\\"; ## SECRET-DATA' in check.stdout
    assert "cloudflare.magic psk (the new key, generated by this run)" in check.stdout
    assert "bind-interface" not in check.stdout, "a statement the SRX already holds was listed as a change"
    _assert_no_key(check, emulator)


@pytest.mark.parametrize("router_stamp", ["2025-01-01T00:00:00Z", "pending", "unverified"])
def test_an_srx_without_the_key_in_force_is_repaired_at_once(runner, emulator, tunnel, device, router_stamp):
    """A restored backup (old key, old stamp), a run killed before its switch (pending, here with the stamp Cloudflare
    has, which must not count) or a failed hand-off (unverified)."""
    stamp = _stamp(emulator, tunnel)
    _seed(device, "an-old-key-from-a-backup", f"pending {stamp}" if router_stamp == "pending" else router_stamp)
    run = runner.run_role()
    assert run.returncode == 0, run.stdout[-4000:]
    assert posts(emulator) == 1
    assert _holds_key_in_force(device, emulator, tunnel), "the SRX does not hold the key in force"
    assert device.leaf(*DESCRIPTION) == f"cloudflare.magic psk {_stamp(emulator, tunnel)}"
    _assert_no_key(run, emulator, "an-old-key-from-a-backup", encrypted("an-old-key-from-a-backup"))


def test_an_unreachable_srx_fails_before_anything_rotates(runner, emulator, server):
    server.refuse = True
    run = runner.run_role()
    assert run.returncode != 0
    assert posts(emulator) == 0
    assert "router1 did not answer over NETCONF" in run.stdout, run.stdout[-3000:]
    assert "nothing was rotated" in run.stdout


def test_bad_names_and_a_log_path_ncclient_would_fill_fail_before_anything_is_sent(runner, emulator, server):
    run = runner.run_role(host_vars={"tunnel_psk_junos_name": "CF tunnel.nyc"})
    assert run.returncode != 0
    assert "tunnel_psk_junos_name" in run.stdout and "nothing was sent" in run.stdout, run.stdout[-3000:]
    unfiltered = runner.run_role(env={"ANSIBLE_LOG_FILTER": None})
    assert unfiltered.returncode != 0
    assert "Add ncclient to log_filter" in unfiltered.stdout, unfiltered.stdout[-3000:]
    assert posts(emulator) == 0 and server.requests == []


def test_a_hand_off_that_does_not_come_up_is_marked_unverified_and_the_next_run_repairs(
        runner, emulator, tunnel, device):
    far_end = device.edge_key
    device.edge_key = lambda address: "the far end holds another key"
    run = runner.run_role(host_vars={"tunnel_psk_verify_timeout": 1}, verbosity=3)
    assert run.returncode != 0
    assert "its stamp is marked unverified" in run.stdout, run.stdout[-3000:]
    assert device.leaf(*DESCRIPTION) == "cloudflare.magic psk unverified"
    assert device.confirm_restore is None, "the marking commit should confirm the key's commit"
    _assert_no_key(run, emulator)
    device.edge_key = far_end
    repaired = runner.run_role()
    assert repaired.returncode == 0, repaired.stdout[-3000:]
    assert posts(emulator) == 2
    assert device.leaf(*DESCRIPTION) == f"cloudflare.magic psk {_stamp(emulator, tunnel)}"


def test_an_srx_cut_off_by_the_commit_rolls_back_and_the_next_run_repairs(runner, emulator, tunnel, device, server):
    """The commit confirmed: the SRX stops answering right after the key's commit; its timer restores the key
    and stamp it had, and the next run, with the SRX back, hands the key in force on."""
    _seed(device, "the-key-before", "2025-01-01T00:00:00Z")
    answer = device.rpc

    def cut_off_after_the_confirmed_commit(session_id, operation):
        reply = answer(session_id, operation)
        if device.confirm_restore is not None:
            server.refuse = True
            raise OSError("the link went down")
        return reply

    device.rpc = cut_off_after_the_confirmed_commit
    run = runner.run_role(host_vars={"tunnel_psk_verify_timeout": 1})
    assert run.returncode != 0
    assert "the SRX could not be marked either" in run.stdout, run.stdout[-3000:]
    device.rpc, server.refuse = answer, False
    device.expire_confirmed_commit()
    rolled_back = (device.leaf(*KEY), device.leaf(*DESCRIPTION))
    assert rolled_back == ("the-key-before", "cloudflare.magic psk 2025-01-01T00:00:00Z")
    repaired = runner.run_role()
    assert repaired.returncode == 0, repaired.stdout[-3000:]
    assert posts(emulator) == 2
    assert _holds_key_in_force(device, emulator, tunnel), "the SRX does not hold the key in force"
    _assert_no_key(run, emulator, "the-key-before", encrypted("the-key-before"))


def test_no_key_in_any_output_even_at_vvvv_with_the_vendor_results(runner, emulator, tunnel, device):
    """stdout, stderr and log_path at -vvvv with --diff, the role's registered vendor results printed, on a
    rotation that replaces a key: junos_config's diff (the SRX's compare) holds both keys as $9$..."""
    _seed(device, "a-key-to-replace", "2025-01-01T00:00:00Z")
    run = runner.run_role("--diff", verbosity=4, post_tasks=SHOW_REGISTERED)
    assert run.returncode == 0, run.stdout[-3000:]
    assert _holds_key_in_force(device, emulator, tunnel), "the SRX does not hold the key in force"
    _assert_no_key(run, emulator, "a-key-to-replace", encrypted("a-key-to-replace"))
    assert "Commit the key with its pending stamp" in run.stdout and "Sending:" not in run.log_text
    assert '"__tunnel_psk_junos_sa": {' in run.stdout, "the registered results were not shown"


def test_a_newer_run_that_wrote_during_verification_fails_this_one_and_keeps_its_stamp(
        runner, emulator, tunnel, device):
    """Overlapping runs: while this run waits for the SA, a newer run commits its own key and pending stamp.
    This run must not switch the stamp to its own key, which the SRX no longer holds."""
    answer = device.rpc
    newer = "cloudflare.magic psk pending 2099-01-01T00:00:00Z"

    def newer_run_commits_during_verification(session_id, operation):
        reply = answer(session_id, operation)
        if (operation.text or "").strip() == "show security ike security-associations":
            device.running = [c for c in device.running if c[:-1] != DESCRIPTION] + [DESCRIPTION + (newer,)]
            device.candidate = list(device.running)
        return reply

    device.rpc = newer_run_commits_during_verification
    run = runner.run_role()
    assert run.returncode != 0
    assert "no longer records the key" in run.stdout and "another run's stamp is left alone" in run.stdout, \
        run.stdout[-3000:]
    assert device.leaf(*DESCRIPTION) == newer, "the newer run's stamp was overwritten"
