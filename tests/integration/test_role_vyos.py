"""The tunnel_psk role on VyOS, end to end: ansible-playbook -> network_cli (paramiko) -> vyos.vyos's terminal,
cliconf, vyos_command and vyos_config -> an SSH server playing a VyOS 1.4 router (tests/devices/vyos.py), with
the key rotated at the emulator. The router's IKE SA comes up only when its secret is the emulator's key in force."""

from __future__ import annotations

import os
import time

import pytest

from devices.sshcli import SshDeviceServer
from devices.vyos import VyosDevice
from support.network_role import KilledRun, NetworkRoleRunner, older_collections_path, posts, recap

pytestmark = pytest.mark.slow(reason=(
    "each test drives one to four whole role runs over network_cli (paramiko) against the VyOS simulator: "
    "a persistent connection, commits and the verification loop in each"))

TUNNEL = "tunnel_nyc_01"
DEVICE_USER, DEVICE_PASSWORD = "vyos", "device-login-7Hq2"
PEER = f"vpn ipsec site-to-site peer CF_{TUNNEL}"
VERBOSITY = 4
PSK_ENTRY = f"vpn ipsec authentication psk CF_{TUNNEL}"

# A max_age of 1s forces a rotation of a fresh key; under the one-hour floor, so allowed explicitly.
FORCE_ROTATION = {"tunnel_psk_max_age": "1s", "tunnel_psk_allow_short_max_age": True}


@pytest.fixture
def tunnel(emulator):
    return next(t for t in emulator.tunnels() if t["name"] == TUNNEL)


@pytest.fixture
def device(emulator, tunnel):
    """A VyOS router whose far end is the emulator: its SA is up only with the key in force there."""
    return VyosDevice("vyos-nyc", edge_key=lambda remote: emulator.edge_psk(tunnel["id"])
                      if remote == tunnel["cloudflare_endpoint"] else None)


@pytest.fixture
def server(device):
    with SshDeviceServer(lambda: device, DEVICE_USER, DEVICE_PASSWORD) as running:
        yield running


@pytest.fixture
def runner(tmp_path, emulator, server, tunnel):
    # The platform from ansible_network_os; the published fqdn form of the identity, since the emulator's
    # psk_generate answers no ipsec_id unless told to.
    return NetworkRoleRunner(tmp_path / "run", emulator, server, "vyos.vyos.vyos", DEVICE_USER, DEVICE_PASSWORD,
                             tunnel=TUNNEL, host_vars={"tunnel_psk_ike_id": emulator.ipsec_id(tunnel["id"])})


def _leaf(device, path):
    """The value ``show configuration commands`` prints for ``path`` (quotes removed), or None."""
    for line in device.config_lines("running"):
        if line.startswith(f"set {path} "):
            return line[len(f"set {path} "):].strip("'")
    return None


def _holds_key_in_force(device, emulator, tunnel):
    """Whether the router's committed secret is the emulator's key in force (a bool: no key in a failure message)."""
    return _leaf(device, f"{PSK_ENTRY} secret") == emulator.edge_psk(tunnel["id"])


def _stamp(emulator, tunnel):
    return emulator.tunnel(tunnel["id"])["psk_metadata"]["last_generated_on"]


# Every result the role registers from a vendor module, printed after the role: none may hold a key.
SHOW_REGISTERED = [{"name": f"Show {name}", "ansible.builtin.debug": {"var": name}} for name in (
    "__tunnel_psk_vyos_preflight", "__tunnel_psk_vyos_check", "__tunnel_psk_vyos_sa",
    "__tunnel_psk_vyos_stamp_now", "__tunnel_psk_vyos_mark")]


def _assert_no_key(run, emulator, *more):
    """No key the emulator ever answered, nor the device login, nor ``more``, in anything the run printed or
    logged. The count is kept apart so that a failing assertion does not print the keys themselves."""
    found = run.hits(*emulator.generated_psks(), DEVICE_PASSWORD, *more)
    assert found == 0, f"{found} occurrence(s) of a key or credential in the run's output"


def test_hand_off_commits_the_key_in_force_with_its_stamp_and_the_guide_parameters_then_nothing_to_do(
        runner, emulator, tunnel, device):
    run = runner.run_role()
    assert run.returncode == 0, run.stdout[-4000:]
    assert _holds_key_in_force(device, emulator, tunnel), "the router does not hold the key in force"
    assert _leaf(device, f"{PEER} description") == f"cloudflare.magic psk {_stamp(emulator, tunnel)}"
    saved = device.saved == device.running
    assert saved, "the configuration was committed but not saved"
    # Two commits: the key with a pending stamp, then (after the SA came up) the stamp switched to in force.
    assert device.commits == 2, device.commits
    sent = device.lines
    committed = [line for line in sent if line.startswith((f"set {PSK_ENTRY} secret", f"set {PEER} description"))]
    assert committed[:2] == [f"set {PSK_ENTRY} secret '{emulator.edge_psk(tunnel['id'])}'",
                             f"set {PEER} description 'cloudflare.magic psk pending {_stamp(emulator, tunnel)}'"]
    assert committed[2:] == [f"set {PEER} description 'cloudflare.magic psk {_stamp(emulator, tunnel)}'"]
    # The peer's SA was reset after the key commit and verified before the switch.
    reset = sent.index(f"reset vpn ipsec site-to-site peer CF_{TUNNEL}")
    assert sent.index(committed[0]) < reset < sent.index("show vpn ike sa", reset) < sent.index(committed[2])
    # Cloudflare's VyOS guide: IKEv2, AES-256-GCM + SHA-512 + DH 20 for IKE and ESP, PFS, DPD restart,
    # route-based (vti bind, no auto-installed routes), the router initiates, identities both ways.
    config = set(device.config_lines("running"))
    expected = {
        "set vpn ipsec ike-group CF_IKE key-exchange 'ikev2'",
        "set vpn ipsec ike-group CF_IKE proposal 1 encryption 'aes256gcm128'",
        "set vpn ipsec ike-group CF_IKE proposal 1 hash 'sha512'",
        "set vpn ipsec ike-group CF_IKE proposal 1 dh-group '20'",
        "set vpn ipsec ike-group CF_IKE dead-peer-detection action 'restart'",
        "set vpn ipsec ike-group CF_IKE disable-mobike",
        "set vpn ipsec esp-group CF_ESP proposal 1 encryption 'aes256gcm128'",
        "set vpn ipsec esp-group CF_ESP pfs 'enable'",
        "set vpn ipsec esp-group CF_ESP mode 'tunnel'",
        "set vpn ipsec options disable-route-autoinstall",
        f"set {PEER} connection-type 'initiate'",
        f"set {PEER} authentication mode 'pre-shared-secret'",
        f"set {PEER} authentication remote-id '{tunnel['cloudflare_endpoint']}'",
        f"set {PEER} remote-address '{tunnel['cloudflare_endpoint']}'",
        f"set {PEER} local-address '{tunnel['customer_endpoint']}'",
        f"set {PEER} vti bind 'vti0'",
        f"set {PEER} vti esp-group 'CF_ESP'",
        f"set {PSK_ENTRY} id '{tunnel['cloudflare_endpoint']}'",
        # interface_address 10.252.2.26/31 is Cloudflare's side; the router takes the other address.
        "set interfaces vti vti0 address '10.252.2.27/31'",
    }
    assert expected <= config, sorted(expected - config)
    identity = _leaf(device, f"{PEER} authentication local-id")
    assert identity and f"set {PSK_ENTRY} id '{identity}'" in config
    assert "show vpn ike sa" in device.lines, "the hand-off was not verified on the router"
    assert posts(emulator) == 1

    # The next run: the router holds the key in force, so nothing rotates and nothing is written.
    before, commits, sent = posts(emulator), device.commits, len(device.lines)
    again = runner.run_role()
    assert again.returncode == 0, again.stdout[-4000:]
    assert posts(emulator) == before, "a router that holds the key in force made the run rotate"
    assert recap(again)["changed"] == 0, again.stdout[-3000:]
    assert device.commits == commits
    writes = ("configure", "set vpn", "set interfaces", "commit", "save")
    assert not any(line.startswith(writes) for line in device.lines[sent:])


@pytest.mark.parametrize("router_stamp", ["stale", "missing", "unverified"])
def test_a_router_without_the_key_in_force_is_repaired_at_once(runner, emulator, tunnel, device, router_stamp):
    """A restored backup (old key, old stamp), a hand-made peer (no stamp) or a failed hand-off (unverified)."""
    assert runner.run_role().returncode == 0
    description = ("vpn", "ipsec", "site-to-site", "peer", f"CF_{TUNNEL}", "description")
    secret = ("vpn", "ipsec", "authentication", "psk", f"CF_{TUNNEL}", "secret")
    device.running = [line for line in device.running if line[:-1] not in (description, secret)]
    device.running.append(secret + ("an-old-key-from-a-backup",))
    if router_stamp != "missing":
        old = "2025-01-01T00:00:00Z" if router_stamp == "stale" else "unverified"
        device.running.append(description + (f"cloudflare.magic psk {old}",))
    before = posts(emulator)
    run = runner.run_role()
    assert run.returncode == 0, run.stdout[-4000:]
    assert posts(emulator) == before + 1
    assert _holds_key_in_force(device, emulator, tunnel), "the router does not hold the key in force"
    assert _leaf(device, f"{PEER} description") == f"cloudflare.magic psk {_stamp(emulator, tunnel)}"
    _assert_no_key(run, emulator, "an-old-key-from-a-backup")


def test_a_router_configured_by_the_earlier_example_playbook_keeps_its_key(runner, emulator, tunnel, device):
    """docs/examples/rotate_and_configure_vyos.yml wrote `cloudflare.magic <tunnel> psk <stamp>`: a job that
    switches to the role must not rotate a key the router holds."""
    assert runner.run_role().returncode == 0
    description = ("vpn", "ipsec", "site-to-site", "peer", f"CF_{TUNNEL}", "description")
    device.running = [line for line in device.running if line[:-1] != description]
    device.running.append(description + (f"cloudflare.magic {TUNNEL} psk {_stamp(emulator, tunnel)}",))
    before = posts(emulator)
    run = runner.run_role()
    assert run.returncode == 0, run.stdout[-3000:]
    assert posts(emulator) == before


def test_an_unreachable_router_fails_before_anything_rotates(runner, emulator, server):
    server.refuse = True
    run = runner.run_role()
    assert run.returncode != 0
    assert posts(emulator) == 0
    assert "router1 did not answer over network_cli" in run.stdout, run.stdout[-3000:]
    assert "nothing was rotated" in run.stdout


@pytest.mark.parametrize("host_vars, named", [({"tunnel_psk_vyos_peer": "CF tunnel.nyc"}, "tunnel_psk_vyos_peer"),
                                              ({"tunnel_psk_vyos_vti": "eth0"}, "tunnel_psk_vyos_vti")])
def test_a_name_vyos_would_refuse_fails_before_anything_is_sent(runner, emulator, device, host_vars, named):
    run = runner.run_role(host_vars=host_vars)
    assert run.returncode != 0
    assert named in run.stdout and "nothing was sent" in run.stdout, run.stdout[-3000:]
    assert posts(emulator) == 0 and device.lines == []


def test_an_older_vyos_is_refused_before_anything_rotates(runner, emulator, device):
    device.version = "1.3.8"
    run = runner.run_role()
    assert run.returncode != 0, run.stdout[-3000:]
    assert posts(emulator) == 0
    assert "VyOS 1.3.8" in run.stdout and "1.4 or later" in run.stdout, run.stdout[-3000:]


def test_a_hand_off_that_does_not_come_up_is_marked_unverified_and_the_next_run_repairs(
        runner, emulator, tunnel, device):
    far_end = device.edge_key
    device.edge_key = lambda remote: "the far end holds another key"
    run = runner.run_role(host_vars={"tunnel_psk_verify_timeout": 1}, verbosity=3)
    assert run.returncode != 0
    assert "the next run rotates and repairs the router" in run.stdout, run.stdout[-3000:]
    assert _leaf(device, f"{PEER} description") == "cloudflare.magic psk unverified"
    saved = device.saved == device.running
    assert saved, "the unverified mark was not saved"
    _assert_no_key(run, emulator)
    device.edge_key = far_end
    repaired = runner.run_role()
    assert repaired.returncode == 0, repaired.stdout[-3000:]
    assert posts(emulator) == 2
    assert _leaf(device, f"{PEER} description") == f"cloudflare.magic psk {_stamp(emulator, tunnel)}"


def test_no_key_in_any_output_even_at_vvvv_with_the_vendor_results(runner, emulator, tunnel, device):
    """stdout, stderr and log_path at -vvvv with --diff, the role's registered vendor results printed, on a
    first hand-off and on a rotation that replaces a key. vyos_config's commands and the router's compare (its
    diff) hold both keys."""
    first = runner.run_role("--diff", verbosity=VERBOSITY, post_tasks=SHOW_REGISTERED)
    assert first.returncode == 0, first.stdout[-3000:]
    old_key = emulator.edge_psk(tunnel["id"])
    second = runner.run_role("--diff", host_vars=FORCE_ROTATION, verbosity=VERBOSITY,
                             post_tasks=SHOW_REGISTERED)
    assert second.returncode == 0, second.stdout[-3000:]
    rotated = emulator.edge_psk(tunnel["id"]) != old_key
    assert rotated, "the second run did not rotate"
    assert _holds_key_in_force(device, emulator, tunnel), "the router does not hold the key in force"
    # the device received both keys and showed both in its compare: the leak check has something to find
    received_old_key = any(old_key in line for line in device.lines)
    assert received_old_key
    for run in (first, second):
        _assert_no_key(run, emulator)
        assert "Commit the key with a pending stamp in one commit" in run.stdout
        assert '"__tunnel_psk_vyos_sa": {' in run.stdout, "the registered results were not shown"


def test_check_mode_lists_the_lines_that_would_change_with_the_key_masked(runner, emulator, tunnel, device):
    assert runner.run_role().returncode == 0
    key, running = emulator.edge_psk(tunnel["id"]), list(device.running)
    run = runner.run_role("--check", "--diff", host_vars=FORCE_ROTATION, verbosity=2,
                          post_tasks=SHOW_REGISTERED)
    assert run.returncode == 0, run.stdout[-3000:]
    unchanged = emulator.edge_psk(tunnel["id"]) == key
    assert unchanged, "check mode rotated the key"
    untouched = device.running == running and device.saved == running
    assert untouched, "check mode changed the router's configuration"
    listed = run.stdout.split("Lines the hand-off would commit to the VyOS router")[1].split("TASK [")[0]
    assert f"set {PSK_ENTRY} secret '********'" in listed
    assert f"set {PEER} description 'cloudflare.magic psk (the new key, generated by this run)'" in listed
    assert f"set {PEER} vti bind" not in listed, "a line the router already holds was listed as a change"
    assert '"__tunnel_psk_vyos_check": {' in run.stdout, "the registered vendor result was not shown"
    _assert_no_key(run, emulator)


def test_a_newer_run_that_wrote_during_verification_fails_this_one_and_keeps_its_stamp(
        runner, emulator, tunnel, device):
    """Overlapping runs: while this run waits for the SA, a newer run commits its own key and stamp. This run
    must not report success for a key the router no longer holds."""
    description = ("vpn", "ipsec", "site-to-site", "peer", f"CF_{TUNNEL}", "description")
    answer = device.handle

    def newer_run_commits_during_verification(line):
        output = answer(line)
        if line.strip() == "show vpn ike sa":
            device.running = [c for c in device.running if c[:-1] != description]
            device.running.append(description + ("cloudflare.magic psk 2099-01-01T00:00:00Z",))
        return output

    device.handle = newer_run_commits_during_verification
    run = runner.run_role()
    assert run.returncode != 0
    assert "no longer records the key" in run.stdout and "the next run rotates and repairs" in run.stdout, \
        run.stdout[-3000:]
    assert _leaf(device, f"{PEER} description") == "cloudflare.magic psk 2099-01-01T00:00:00Z", \
        "the newer run's stamp was overwritten"


def test_a_run_killed_before_the_stamp_switch_leaves_it_pending_and_the_next_run_repairs(
        runner, emulator, tunnel, device):
    """SIGKILL to ansible-playbook while it verifies (after the key's commit): no rescue runs, so no stamp may
    say "in force" yet; the next run reads the pending stamp as none, rotates, verifies and switches it."""
    answer = device.handle
    killed = KilledRun(runner)

    def kill_while_verifying(line):
        output = answer(line)
        if line.strip() == "show vpn ike sa":
            killed.kill()
        return output

    device.handle = kill_while_verifying
    run = killed.wait()
    device.handle = answer
    assert killed.killed, run.stdout[-3000:]
    first_stamp = _stamp(emulator, tunnel)
    assert _leaf(device, f"{PEER} description") == f"cloudflare.magic psk pending {first_stamp}"
    repaired = runner.run_role()
    assert repaired.returncode == 0, repaired.stdout[-4000:]
    assert posts(emulator) == 2, "the pending stamp did not make the next run rotate"
    assert _holds_key_in_force(device, emulator, tunnel), "the router does not hold the key in force"
    assert _leaf(device, f"{PEER} description") == f"cloudflare.magic psk {_stamp(emulator, tunnel)}"
    _assert_no_key(run, emulator)


def test_an_ike_sa_made_before_the_commit_does_not_verify_the_new_key(runner, emulator, tunnel, device):
    """An SA negotiated an hour ago with the old key stays up across the commit. While the router ignores the
    reset, that SA must not pass; once the reset works, a new SA (younger than the commit) does."""
    assert runner.run_role().returncode == 0
    endpoint = tunnel["cloudflare_endpoint"]
    device.sas[endpoint] = (time.monotonic() - 3600, "the key of an hour ago")
    answer = device.handle
    device.handle = lambda line: "" if line.strip().startswith("reset vpn ipsec") else answer(line)
    run = runner.run_role(host_vars={**FORCE_ROTATION, "tunnel_psk_verify_timeout": 2})
    assert run.returncode != 0, "an SA older than the commit verified the new key"
    assert "Wait until an IKE SA with Cloudflare is up, negotiated after the commit" in run.stdout, run.stdout[-3000:]
    assert _leaf(device, f"{PEER} description") == "cloudflare.magic psk unverified"
    _assert_no_key(run, emulator)
    device.handle = answer
    repaired = runner.run_role()
    assert repaired.returncode == 0, repaired.stdout[-4000:]
    assert device.sas[endpoint][0] > time.monotonic() - 60, "the SA that verified the key is the old one"
    assert _leaf(device, f"{PEER} description") == f"cloudflare.magic psk {_stamp(emulator, tunnel)}"


def test_a_second_tunnel_on_the_same_router_gets_its_own_vti_or_is_refused(runner, emulator, tunnel, device):
    """Two tunnels of one router are two hosts with one ansible_host. The second may not take the first's VTI
    (the default vti0): it is refused before anything rotates; with a VTI of its own both end healthy."""
    assert runner.run_role().returncode == 0
    second = next(t for t in emulator.tunnels() if t["name"] == f"{TUNNEL}b")
    second_vars = {"tunnel_psk_tunnel_name": second["name"], "tunnel_psk_ike_id": emulator.ipsec_id(second["id"])}
    refused = runner.run_role(host_vars=second_vars)
    assert refused.returncode != 0
    assert f"vti0 on VyOS router router1 is bound to the site-to-site peer CF_{TUNNEL}" in refused.stdout, \
        refused.stdout[-3000:]
    assert posts(emulator) == 1, "the refused tunnel was rotated"
    device.edge_key = lambda remote: emulator.edge_psk(
        next(t["id"] for t in emulator.tunnels() if t["cloudflare_endpoint"] == remote))
    both = runner.run_role(host_vars={**second_vars, "tunnel_psk_vyos_vti": "vti1"})
    assert both.returncode == 0, both.stdout[-4000:]
    assert runner.run_role().returncode == 0 and posts(emulator) == 2, "the first tunnel lost its key in force"
    assert _leaf(device, f"{PEER} vti bind") == "vti0"
    assert _leaf(device, f"vpn ipsec site-to-site peer CF_{second['name']} vti bind") == "vti1"
    assert _leaf(device, f"vpn ipsec site-to-site peer CF_{second['name']} description") == \
        f"cloudflare.magic psk {_stamp(emulator, second)}"
    assert _holds_key_in_force(device, emulator, tunnel)


def test_a_vyos_collection_older_than_the_role_needs_is_refused_before_anything_rotates(runner, emulator, device):
    """vyos.vyos of the `ansible` 11 package (5.x) predates VyOS 1.4 support: refused before any POST, naming the
    collection and the version needed."""
    runner.collections = os.pathsep.join((older_collections_path(), runner.collections))
    run = runner.run_role()
    assert run.returncode != 0
    assert "needs the collection vyos.vyos 6.0.0 or later" in run.stdout, run.stdout[-3000:]
    assert "this controller loads vyos.vyos 5." in run.stdout and "nothing was rotated" in run.stdout
    assert posts(emulator) == 0 and device.lines == []


def test_without_verification_the_stamp_is_still_read_again_before_the_switch(runner, emulator, tunnel, device):
    """tunnel_psk_verify false: no reset and no SA check, but the task that would wait for the SA still reads the
    stamp again, after the key's commit and before the switch (where a newer run's write would show)."""
    run = runner.run_role(host_vars={"tunnel_psk_verify": False})
    assert run.returncode == 0, run.stdout[-4000:]
    assert _holds_key_in_force(device, emulator, tunnel), "the router does not hold the key in force"
    assert _leaf(device, f"{PEER} description") == f"cloudflare.magic psk {_stamp(emulator, tunnel)}"
    sent = device.lines
    assert "show vpn ike sa" not in sent and not any(line.startswith("reset vpn") for line in sent)
    key_commit = next(i for i, line in enumerate(sent) if line.startswith(f"set {PSK_ENTRY} secret"))
    switch = sent.index(f"set {PEER} description 'cloudflare.magic psk {_stamp(emulator, tunnel)}'")
    read = f'show configuration commands | match "site-to-site peer CF_{TUNNEL} description"'
    assert read in sent[key_commit:switch], "the stamp was not read again between the key's commit and the switch"
