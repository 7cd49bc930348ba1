"""router_psk_generated_on as users write it in a playbook: an unquoted timestamp (which YAML reads as a
datetime, and Ansible shows as "2026-11-01 10:00:00+00:00"), and RFC 3339's lower-case "t" and "z".
Real ansible-playbook runs of playbook text, so that the YAML is read as a user's would be."""

from __future__ import annotations

import json

import pytest
from support.playbooks import seed_account

TUNNEL = "tunnel_nyc_01"


def in_force(emulator):
    tunnel = next(t for t in seed_account(emulator)["tunnels"] if t["name"] == TUNNEL)
    return tunnel["id"], emulator.tunnel(tunnel["id"])["psk_metadata"]["last_generated_on"]


def playbook(emulator, workdir, module_args):
    """Playbook text with ``module_args`` written as given (unquoted), then what the result shows but the key."""
    kept = workdir / "result.json"
    return f"""
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Rotate
      {module_args}
      register: rotation
      ignore_errors: true
    - name: Keep the result without its keys
      ansible.builtin.copy:
        content: "{{{{ rotation | dict2items | rejectattr('key', 'in', ['psk', 'rotated']) | items2dict | to_json }}}}"
        dest: {kept}
""", kept


def single(emulator, stamp):
    return (f"cloudflare.magic.ipsec_psk:\n        ipsec_tunnel_name: {TUNNEL}\n        max_age: 90d\n"
            f"        ca_path: {emulator.ca_file}\n        router_psk_generated_on: {stamp}")


def bulk(emulator, stamp):
    return (f"cloudflare.magic.ipsec_psk_bulk:\n        ipsec_tunnel_names: [{TUNNEL}]\n        max_age: 90d\n"
            f"        ca_path: {emulator.ca_file}\n        router_psk_generated_on:\n          {TUNNEL}: {stamp}")


def run(playbooks, emulator, tmp_path, args):
    text, kept = playbook(emulator, tmp_path, args)
    result = playbooks.run(playbooks.write("stamp.yml", text))
    assert result.returncode == 0, result.stdout[-2000:]
    return json.loads(kept.read_text()), result


def posts(emulator):
    return [r for r in emulator.requests if r.method == "POST"]


@pytest.mark.parametrize("form", ["as Cloudflare wrote it", "with a space", "lower-case t and z"])
@pytest.mark.parametrize("module", [single, bulk], ids=["ipsec_psk", "ipsec_psk_bulk"])
def test_an_unquoted_stamp_of_the_key_in_force_is_accepted_and_fresh(form, module, playbooks, emulator, tmp_path):
    _tid, stamp = in_force(emulator)
    written = {"as Cloudflare wrote it": stamp, "with a space": stamp.replace("T", " "),
               "lower-case t and z": stamp.replace("T", "t").replace("Z", "z")}[form]
    result, _run = run(playbooks, emulator, tmp_path, module(emulator, written))
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False and posts(emulator) == []


@pytest.mark.parametrize("module", [single, bulk], ids=["ipsec_psk", "ipsec_psk_bulk"])
def test_an_unquoted_stamp_of_an_older_key_rotates(module, playbooks, emulator, tmp_path):
    result, _run = run(playbooks, emulator, tmp_path, module(emulator, "2026-01-01T10:00:00Z"))
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True and len(posts(emulator)) == 1


@pytest.mark.parametrize("module", [single, bulk], ids=["ipsec_psk", "ipsec_psk_bulk"])
def test_an_unquoted_date_is_refused_saying_to_quote_it(module, playbooks, emulator, tmp_path):
    result, _run = run(playbooks, emulator, tmp_path, module(emulator, "2026-11-01"))
    assert result["failed"] is True and "router_psk_generated_on" in result["msg"] and "in quotes" in result["msg"]
    assert emulator.requests == []
