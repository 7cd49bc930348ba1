"""The tunnel_psk role with tunnel_psk_bulk: one run_once ipsec_psk_bulk request for every host of the play.

Two router folders as inventory hosts that name their tunnels by id; the emulator is Cloudflare.
"""

from __future__ import annotations

import json

import pytest
import yaml

from support.bulk import bulk_posts
from support.ipsec_example_runs import config_stamp
from support.playbooks import seed_account
from test_example_fleet_bulk import held_key

HOSTS = {"router-nyc": "tunnel_nyc_01", "router-lon": "tunnel_lon_01"}


def setup(tmp_path, emulator):
    ids = {t["name"]: t["id"] for t in seed_account(emulator)["tunnels"]}
    hosts = {}
    for host, name in HOSTS.items():
        (tmp_path / host).mkdir()
        hosts[host] = {"tunnel_psk_tunnel_id": ids[name], "tunnel_psk_swanctl_conf_dir": str(tmp_path / host)}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"routers": {"hosts": hosts, "vars": {
        "ansible_connection": "local", "tunnel_psk_platform": "strongswan", "tunnel_psk_bulk": True,
        "tunnel_psk_swanctl_load": False, "tunnel_psk_ike_id": "router.example.net",
        "tunnel_psk_ca_path": emulator.ca_file}}}}}))
    playbook = tmp_path / "bulk.yml"
    playbook.write_text(yaml.safe_dump([{"name": "Bulk", "hosts": "routers", "gather_facts": False,
                                         "roles": ["cloudflare.magic.tunnel_psk"]}]))
    return ids, inventory, playbook


@pytest.mark.slow(reason=("three whole role runs against two routers (check mode, the bulk rotation, the run after "
                          "it): the state between them is what is tested"))
def test_one_request_for_the_play_then_each_router_its_key_and_stamp(playbooks, emulator, tmp_path):
    ids, inventory, playbook = setup(tmp_path, emulator)
    checked = playbooks.run(playbook, "-i", str(inventory), "--check", "--diff")
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert [p.query.get("validate_only") for p in bulk_posts(emulator)] == ["true"]
    assert not [p for h in HOSTS for p in (tmp_path / h).iterdir()], "check mode wrote a router file"
    assert checked.stdout.count("+    secret = ********") == 2

    emulator.clear_requests()
    first = playbooks.run(playbook, "-i", str(inventory))
    assert first.returncode == 0, first.stdout[-3000:]
    posts = bulk_posts(emulator)
    assert len(posts) == 1
    assert {e["id"] for e in json.loads(posts[0].body)["psks"]} == {ids[n] for n in HOSTS.values()}
    for host, name in HOSTS.items():
        tid = ids[name]
        assert held_key(tmp_path / host, tid) == emulator.edge_psk(tid)  # files are named by the id given
        stamp = config_stamp(tmp_path / host / f"cloudflare-{tid}.conf")
        assert stamp == emulator.tunnel(tid)["psk_metadata"]["last_generated_on"]

    emulator.clear_requests()
    second = playbooks.run(playbook, "-i", str(inventory))
    assert second.returncode == 0 and bulk_posts(emulator) == []
    assert "changed=0" in second.stdout
    for run in (checked, first, second):
        assert run.hits(*emulator.generated_psks(), playbooks.token) == 0


def test_hosts_naming_tunnels_both_ways_fail_before_any_request(playbooks, emulator, tmp_path):
    ids, inventory, playbook = setup(tmp_path, emulator)
    data = yaml.safe_load(inventory.read_text())
    lon = data["all"]["children"]["routers"]["hosts"]["router-lon"]
    lon["tunnel_psk_tunnel_name"] = "tunnel_lon_01"
    del lon["tunnel_psk_tunnel_id"]
    inventory.write_text(yaml.safe_dump(data))
    run = playbooks.run(playbook, "-i", str(inventory))
    assert run.returncode != 0 and "every host gives" in run.stdout
    assert emulator.requests == []
