"""The tunnel_psk role refuses what a router must not be given, and refuses it as early as it can be known.

- A value of Cloudflare's tunnel (read with a GET before anything rotates) that router configuration cannot
  carry, or a tunnel whose router would have no IKE identity: refused with 0 POSTs, nothing written.
- A value of the rotation's own answer (ipsec_id, the stamp, the key): refused after the rotation with nothing
  sent to the router, naming the field; the next run rotates and hands the key on.
- A router stamp that looks like a time but is not full RFC 3339: no stamp, so the run rotates and repairs.
- A wrong input: fails naming the option and the fix, before any request.
The emulator's ``hostile_answer`` fault serves the hostile values; its own state keeps the good ones.
"""

from __future__ import annotations

import re

import pytest

from cf_emulator import Fault
from test_role_strongswan import all_requests, role_run, router  # noqa: F401  pylint: disable=unused-import

pytestmark = pytest.mark.slow(
    reason="a run that meets a hostile or malformed answer, then the run that repairs: two whole role runs")

INJECTED = "x.example.com'\nset vpn ipsec authentication psk EVIL secret 'pwned'"


def _refused(run, *needles):
    out = run.run.stdout
    return all(needle in out for needle in needles) and "Traceback" not in run.run.everything


@pytest.mark.parametrize(("fields", "refused_field"), [
    ({"custom_remote_identities.fqdn_id": INJECTED}, "custom_remote_identities.fqdn_id of Cloudflare's tunnel"),
    ({"cloudflare_endpoint": "162.159.66.164\nusername pwn privilege 15"}, "cloudflare_endpoint of Cloudflare's tunnel"),
    ({"interface_address": "10.252.2.26/29"}, "interface_address of Cloudflare's tunnel is a /29"),
    ({"custom_remote_identities": None}, "no IKE identity is known for the router"),
], ids=["identity", "endpoint", "not-31-or-30", "no-identity"])
def test_a_tunnel_the_router_cannot_take_is_refused_before_anything_rotates(router, fields, refused_field):
    router.emulator.push_fault(Fault("hostile_answer", times=None, method="GET", fields=fields))
    run = role_run(router, "hostile tunnel")
    assert run.returncode != 0 and run.posts == 0, run.run.stdout[-3000:]
    assert [m for m, _path in all_requests(router)] == ["GET"], "more than the one look-up was sent"
    assert _refused(run, refused_field, "nothing was rotated", "Cloudflare's tunnel tunnel_nyc_01 cannot be handed")
    assert "tunnel_psk_ike_id" in run.run.stdout or "IKE identity" not in refused_field
    assert not router.config.exists(), "the router was written"
    assert "pwned" not in run.run.stdout and router.key_leaks() == 0


@pytest.mark.parametrize(("fault", "refused_field"), [
    (Fault("hostile_answer", match_path="psk_generate", fields={"ipsec_id": INJECTED}),
     "ipsec_id of Cloudflare's answer is not an IKE identity"),
    (Fault("hostile_answer", match_path="psk_generate", fields={"psk_metadata.last_generated_on": "2026-11-26T10:48Z"}),
     "psk_metadata.last_generated_on of Cloudflare's answer is not an RFC 3339 time"),
    (Fault("force_psk", psk="a-key-with-a-line-break\nset system login user pwn"),
     "psk of Cloudflare's answer: holds a control character"),
], ids=["ipsec_id", "stamp", "key"])
def test_a_hostile_rotation_answer_reaches_no_router_and_the_next_run_hands_the_key_on(router, fault, refused_field):
    router.emulator.push_fault(fault)
    run = role_run(router, "hostile answer", tunnel_psk_ike_id=None)
    assert run.returncode != 0 and run.posts == 1, run.run.stdout[-3000:]
    assert _refused(run, refused_field, "Nothing was sent to the router"), run.run.stdout[-3000:]
    assert not router.config.exists(), "the router was written"
    assert run.run.hits("set system login user pwn", "a-key-with-a-line-break") == 0, "the refused key was shown"
    repaired = role_run(router, "next run", tunnel_psk_ike_id=None)
    assert repaired.returncode == 0 and repaired.posts == 1, repaired.run.stdout[-3000:]
    assert router.holds_key_in_force() and router.stamp_is_edge_stamp()
    assert router.key_leaks() == 0


def test_a_stamp_that_is_not_full_rfc_3339_is_no_stamp_so_the_run_rotates_and_repairs(router):
    assert role_run(router, "first hand-off").returncode == 0
    for partial in ("2026-01-01", "2026-11-26T10:48Z"):
        router.config.write_text(re.sub(r"^# cloudflare\.magic psk .*$", f"# cloudflare.magic psk {partial}",
                                        router.config.read_text(), flags=re.MULTILINE))
        repaired = role_run(router, f"stamp {partial}")
        assert repaired.returncode == 0 and repaired.posts == 1, (partial, repaired.run.stdout[-3000:])
        assert router.holds_key_in_force() and router.stamp_is_edge_stamp()
    assert router.key_leaks() == 0


@pytest.mark.parametrize(("inputs", "message"), [
    ({"tunnel_psk_platform": "routeros", "tunnel_psk_tunnel_name": None}, "value of tunnel_psk_platform must be one of"),
    ({"tunnel_psk_platform": None, "tunnel_psk_tunnel_name": None}, "Give exactly one of tunnel_psk_tunnel_name"),
    ({"tunnel_psk_ike_id": "router.example.net\nset system login"}, "tunnel_psk_ike_id holds a control character"),
    ({"tunnel_psk_ike_id": "router example net"}, "tunnel_psk_ike_id is not an IKE identity"),
], ids=["wrong-platform-no-tunnel", "nothing-given", "ike-id-line-break", "ike-id-form"])
def test_an_input_mistake_fails_naming_the_option_before_any_request(router, inputs, message):
    run = role_run(router, "input mistake", **inputs)
    assert run.returncode != 0 and message in run.run.stdout, run.run.stdout[-3000:]
    assert "is undefined" not in run.run.stdout
    assert all_requests(router) == []


def test_vyos_is_sent_nothing_when_the_answer_carries_an_injected_identity(tmp_path, emulator):
    """The issue's example identity: a quote and a line break would add a `set` line of its own on VyOS."""
    pytest.importorskip("paramiko", reason="the VyOS simulator needs paramiko (the primary venv has it)")
    from devices.sshcli import SshDeviceServer  # pylint: disable=import-outside-toplevel
    from devices.vyos import VyosDevice  # pylint: disable=import-outside-toplevel
    from support.network_role import NetworkRoleRunner, posts  # pylint: disable=import-outside-toplevel

    tunnel = next(t for t in emulator.tunnels() if t["name"] == "tunnel_nyc_01")
    device = VyosDevice("vyos-nyc", edge_key=lambda remote: emulator.edge_psk(tunnel["id"]))
    with SshDeviceServer(lambda: device, "vyos", "device-login-7Hq2") as server:
        runner = NetworkRoleRunner(tmp_path / "run", emulator, server, "vyos.vyos.vyos", "vyos", "device-login-7Hq2",
                                   host_vars={"tunnel_psk_ike_id": emulator.ipsec_id(tunnel["id"])})
        emulator.push_fault(Fault("hostile_answer", times=None, method="GET",
                                  fields={"interface_address": "10.252.2.26/31'\nset system login user pwn"}))
        refused = runner.run_role()
        emulator.clear_faults()
        assert refused.returncode != 0 and posts(emulator) == 0, refused.stdout[-3000:]
        assert "interface_address of Cloudflare's tunnel" in refused.stdout, refused.stdout[-3000:]
        emulator.push_fault(Fault("hostile_answer", match_path="psk_generate", fields={"ipsec_id": INJECTED}))
        runner.host_vars["tunnel_psk_ike_id"] = ""  # the answer's ipsec_id is then the identity
        emulator.push_fault(Fault("hostile_answer", times=None, method="GET",
                                  fields={"custom_remote_identities.fqdn_id": "nyc.example.com"}))
        run = runner.run_role()
        assert run.returncode != 0 and posts(emulator) == 1, run.stdout[-3000:]
        assert "ipsec_id of Cloudflare's answer is not an IKE identity" in run.stdout
        writes = ("configure", "set vpn", "set interfaces", "set system", "commit", "save")
        assert not [line for line in device.lines if line.startswith(writes)], "the router was sent configuration"
        assert device.commits == 0
