"""The example playbooks in docs/examples parse against the real collections their tasks use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


NETWORK_EXAMPLES = {"rotate_and_configure_vyos.yml": (
    "set vpn ipsec site-to-site peer CF_tunnel_nyc_01 description 'cloudflare.magic tunnel_nyc_01 psk {stamp}'"),
    "rotate_and_configure_ios_xe.yml": " description cloudflare.magic tunnel_nyc_01 psk {stamp}"}


def _example_play(name):
    import yaml

    play = yaml.safe_load((ROOT / "docs" / "examples" / name).read_text())[0]
    rotate = next(t for t in play["tasks"] if "cloudflare.magic.ipsec_psk" in t)
    return play, rotate["cloudflare.magic.ipsec_psk"]["router_psk_generated_on"]


@pytest.mark.parametrize("name", sorted(NETWORK_EXAMPLES))
def test_network_examples_read_the_stamp_and_choose_the_identity(name, playbooks):
    """What the VyOS / IOS XE plays pass as router_psk_generated_on from the running configuration, and the
    IKE identity they configure: router_ike_id, else ipsec_id, else the tunnel's fqdn_id (published form)."""
    play, stamp_expression = _example_play(name)
    stamp = "2026-11-26T10:48:15.953887008Z"
    line = NETWORK_EXAMPLES[name].format(stamp=stamp)
    variables = {k: play["vars"][k] for k in ("peer_description_prefix", "router_identity")}
    variables["magic_wan_tunnel_name"] = "tunnel_nyc_01"
    fqdn = "nyc01.025ff6f753bd6d1b6e12dead5ff45e50.custom.ipsec.cloudflare.com"
    cases = [  # (running config lines, rotation result, router_ike_id) -> (stamp passed, identity)
        ([line], {"ipsec_id": "a.ipsec.cloudflare.com", "tunnel": {}}, None, stamp, "a.ipsec.cloudflare.com"),
        ([""], {"tunnel": {"custom_remote_identities": {"fqdn_id": fqdn}}}, None, "", fqdn),
        ([], {"tunnel": {}}, "set.by.user", "", "set.by.user"),
        ([line], {"tunnel": {}}, None, stamp, ""),
    ]
    tasks = []
    for number, (lines, rotation, ike_id, _stamp, _identity) in enumerate(cases):
        outputs = lines if name.endswith("vyos.yml") else ["Current privilege level is 15"] + lines
        case_vars = {"running_stamp": {"stdout": outputs}, "rotation": rotation}
        if ike_id:
            case_vars["router_ike_id"] = ike_id
        tasks.append({"name": f"case {number}", "ansible.builtin.debug": {
            "msg": f"CASE{number} STAMP=[{stamp_expression.strip()}] ID=[{{{{ router_identity }}}}]"},
            "vars": case_vars})
    run = playbooks.run([{"hosts": "localhost", "gather_facts": False, "vars": variables, "tasks": tasks}])
    assert run.returncode == 0, run.stdout[-3000:]
    for number, (_lines, _rotation, _ike_id, want_stamp, want_identity) in enumerate(cases):
        assert f"CASE{number} STAMP=[{want_stamp}] ID=[{want_identity}]" in run.stdout, run.stdout[-3000:]
