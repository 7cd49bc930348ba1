"""The example playbooks in docs/examples parse against the real collections their tasks use; the VyOS and IOS XE
ones run end to end against the device simulators (tests/devices) and the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devices.ios_xe import IosXeRouter
from devices.sshcli import SshDeviceServer
from devices.vyos import VyosDevice
from support.network_role import NetworkRoleRunner

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("rotate_and_configure_*.yml"))
sys.path.insert(0, str(ROOT / "tests" / "tools"))

import network_collections  # noqa: E402


@pytest.fixture(scope="module")
def collections_path():
    try:
        network = network_collections.ensure(ROOT / ".venv" / "network-collections")
    except subprocess.CalledProcessError as error:
        pytest.skip(f"could not download the pinned ansible package for vyos.vyos/cisco.ios: {error}")
    return os.pathsep.join(p for p in (str(network), os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")) if p)


def test_the_examples_are_there():
    assert {p.name for p in EXAMPLES} >= {"rotate_and_configure_strongswan.yml", "rotate_and_configure_vyos.yml",
                                          "rotate_and_configure_ios_xe.yml"}


@pytest.mark.parametrize("playbook", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_syntax_check_against_the_real_collections(playbook, collections_path, tmp_path):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_HOME=str(tmp_path),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_NOCOLOR="1")
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "--syntax-check",
                           "-i", "localhost,", str(playbook)], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("playbook", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_task_that_uses_the_key_has_no_log(playbook):
    import yaml

    for play in yaml.safe_load(playbook.read_text()):
        tasks = list(play.get("tasks", [])) + list(play.get("handlers", []))
        while tasks:
            task = tasks.pop()
            tasks.extend(task.get("block", []))
            if "rotation.psk }}" in yaml.safe_dump(task) or "rotation.psk |" in yaml.safe_dump(task):
                assert task.get("no_log") is True, f"{playbook.name}: {task.get('name')} passes the key without no_log"


def test_the_vyos_example_hands_the_key_on_with_its_extra_vars(emulator, tmp_path):
    """The thin VyOS example, end to end against the VyOS simulator, driven by the extra vars earlier versions
    took (as an AWX job template passes them)."""
    tunnel = next(t for t in emulator.tunnels() if t["name"] == "tunnel_nyc_01")
    device = VyosDevice("vyos-nyc", edge_key=lambda remote: emulator.edge_psk(tunnel["id"])
                        if remote == tunnel["cloudflare_endpoint"] else None)
    with SshDeviceServer(lambda: device, "vyos", "device-login") as server:
        runner = NetworkRoleRunner(tmp_path / "run", emulator, server, "vyos.vyos.vyos", "vyos", "device-login",
                                   group="vyos_routers")
        run = runner.run_playbook(ROOT / "docs" / "examples" / "rotate_and_configure_vyos.yml", "-e", json.dumps({
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
        run = runner.run_playbook(ROOT / "docs" / "examples" / "rotate_and_configure_ios_xe.yml", "-e", json.dumps({
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
