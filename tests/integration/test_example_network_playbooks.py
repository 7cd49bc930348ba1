"""The VyOS, IOS XE and Juniper SRX example playbooks, end to end: each against its device simulator
(tests/devices) through the vendor collection's real code, with the key rotated at the emulator, driven by the
extra vars their earlier versions took (as an AWX job template passes them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devices.ios_xe import IosXeRouter
from devices.junos import JunosDevice
from devices.netconf import NetconfServer
from devices.sshcli import SshDeviceServer
from devices.vyos import VyosDevice
from support.network_role import NetworkRoleRunner

pytestmark = pytest.mark.slow(
    reason="a whole run of the example playbook over network_cli or NETCONF against the device simulator")

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def test_the_vyos_example_hands_the_key_on_with_its_extra_vars(emulator, tmp_path):
    """The thin VyOS example, end to end against the VyOS simulator, driven by the extra vars earlier versions
    took (as an AWX job template passes them)."""
    tunnel = next(t for t in emulator.tunnels() if t["name"] == "tunnel_nyc_01")
    device = VyosDevice("vyos-nyc", edge_key=lambda remote: emulator.edge_psk(tunnel["id"])
                        if remote == tunnel["cloudflare_endpoint"] else None)
    with SshDeviceServer(lambda: device, "vyos", "device-login") as server:
        runner = NetworkRoleRunner(tmp_path / "run", emulator, server, "vyos.vyos.vyos", "vyos", "device-login",
                                   group="vyos_routers")
        run = runner.run_playbook(EXAMPLES / "rotate_and_configure_vyos.yml", "-e", json.dumps({
            "magic_wan_tunnel_name": "tunnel_nyc_01", "magic_wan_vti": "vti7", "psk_max_age": "30d",
            "wait_for_tunnel_up": True, "router_ike_id": "branch.example.net", "cloudflare_ca_path": emulator.ca_file}))
    assert run.returncode == 0, run.stdout[-4000:]
    config = device.config_lines("running")
    peer, psk = "set vpn ipsec site-to-site peer CF_tunnel_nyc_01", "set vpn ipsec authentication psk CF_tunnel_nyc_01"
    stamp = emulator.tunnel(tunnel["id"])["psk_metadata"]["last_generated_on"]
    holds_key = f"{psk} secret '{emulator.edge_psk(tunnel['id'])}'" in config
    assert holds_key, "the router does not hold the key in force"
    assert {f"{peer} description 'cloudflare.magic psk {stamp}'", f"{peer} vti bind 'vti7'",
            f"{peer} authentication local-id 'branch.example.net'", "set interfaces vti vti7 address '10.252.2.27/31'"
            } <= set(config)
    assert "show vpn ike sa" in device.lines
    assert run.hits(*emulator.generated_psks()) == 0


def test_the_ios_xe_example_hands_the_key_on_with_its_extra_vars(emulator, tmp_path):
    """The thin IOS XE example, end to end against the IOS XE simulator, driven by the extra vars earlier
    versions took (as an AWX job template passes them)."""
    tunnel = next(t for t in emulator.tunnels() if t["name"] == "tunnel_nyc_01")
    endpoint = tunnel["cloudflare_endpoint"]
    router = IosXeRouter(enable_password="enable-secret", edge_key=lambda address: emulator.edge_psk(tunnel["id"])
                         if address == endpoint else None)
    with SshDeviceServer(router.session, "netops", "ssh-login") as server:
        runner = NetworkRoleRunner(tmp_path / "run", emulator, server, "cisco.ios.ios", "netops", "ssh-login",
                                   group="ios_xe_routers",
                                   host_vars={"ansible_become": True, "ansible_become_method": "enable",
                                              "ansible_become_password": "enable-secret"})
        run = runner.run_playbook(EXAMPLES / "rotate_and_configure_ios_xe.yml", "-e", json.dumps({
            "magic_wan_tunnel_name": "tunnel_nyc_01", "magic_wan_tunnel_interface": "Tunnel7",
            "magic_wan_wan_interface": "203.0.113.10", "psk_max_age": "30d", "wait_for_tunnel_up": True,
            "router_ike_id": "branch.example.net", "cloudflare_ca_path": emulator.ca_file}))
    assert run.returncode == 0, run.stdout[-4000:]
    stamp = emulator.tunnel(tunnel["id"])["psk_metadata"]["last_generated_on"]
    peer = router.children("crypto ikev2 keyring CF_MAGIC_WAN_KEYRING", "peer CF_MAGIC_WAN_TUNNEL_NYC_01")
    holds_key = peer == [f"description cloudflare.magic psk {stamp}", f"address {endpoint}",
                         f"pre-shared-key {emulator.edge_psk(tunnel['id'])}"]
    assert holds_key, "the router does not hold the key in force with its stamp"
    assert "identity local fqdn branch.example.net" in router.children(
        "crypto ikev2 profile CF_MAGIC_WAN_TUNNEL_NYC_01")
    tunnel_interface = router.children("interface Tunnel7")
    assert "tunnel source 203.0.113.10" in tunnel_interface and f"tunnel destination {endpoint}" in tunnel_interface
    assert router.session_state(endpoint)[1] == "UP-ACTIVE"
    assert run.hits(*emulator.generated_psks()) == 0


def test_the_junos_example_hands_the_key_on_over_netconf(emulator, tmp_path):
    """The Juniper SRX example, end to end against the SRX simulator over NETCONF, with its extra vars."""
    tunnel = next(t for t in emulator.tunnels() if t["name"] == "tunnel_nyc_01")
    srx = JunosDevice("srx-nyc", edge_key=lambda address: emulator.edge_psk(tunnel["id"])
                      if address == tunnel["cloudflare_endpoint"] else None)
    with NetconfServer(lambda: srx, "netops", "ssh-login") as server:
        runner = NetworkRoleRunner(tmp_path / "run", emulator, server, "junipernetworks.junos.junos", "netops",
                                   "ssh-login", group="srx_firewalls",
                                   host_vars={"ansible_connection": "ansible.netcommon.netconf"})
        run = runner.run_playbook(EXAMPLES / "rotate_and_configure_junos.yml", "-e", json.dumps({
            "magic_wan_tunnel_name": "tunnel_nyc_01", "srx_wan_interface": "ge-0/0/3.0", "srx_st0_unit": 7,
            "router_ike_id": "branch.example.net", "cloudflare_ca_path": emulator.ca_file}),
            env={"ANSIBLE_LOG_FILTER": "ncclient"})
    assert run.returncode == 0, run.stdout[-4000:]
    policy = ("security", "ike", "policy", "CF_tunnel_nyc_01")
    gateway = ("security", "ike", "gateway", "CF_tunnel_nyc_01")
    holds_key = srx.leaf(*policy, "pre-shared-key", "ascii-text") == emulator.edge_psk(tunnel["id"])
    assert holds_key, "the SRX does not hold the key in force"
    stamp = emulator.tunnel(tunnel["id"])["psk_metadata"]["last_generated_on"]
    assert srx.leaf(*policy, "description") == f"cloudflare.magic psk {stamp}"
    assert srx.leaf(*gateway, "external-interface") == "ge-0/0/3.0"
    assert srx.leaf(*gateway, "local-identity", "hostname") == "branch.example.net"
    assert srx.leaf("interfaces", "st0", "unit", "7", "family", "inet", "address") == "10.252.2.27/31"
    assert run.hits(*emulator.generated_psks()) == 0
