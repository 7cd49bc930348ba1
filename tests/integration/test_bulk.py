"""ipsec_psk_bulk (and ipsec_psk with psk) end to end: real ansible-playbook runs against the HTTPS emulator.

Each test checks that the keys handed to the router tasks are the keys in force at the edge, and that no
key and no credential shows in stdout, stderr or log_path.
"""

from __future__ import annotations

import json

import pytest
from cf_emulator import Fault
from support.bulk import bulk_posts, bulk_task, handed_on, keys_match_edge, write_bulk_keys_task
from support.playbooks import play, rotate_task, seed_account, write_psk_task

FAST = {"retry_backoff": 0.05, "retry_backoff_max": 0.2, "timeout": 5}


def ids(emulator, *names):
    by_name = {t["name"]: t["id"] for t in seed_account(emulator)["tunnels"]}
    return [by_name[n] for n in names]


def secrets(emulator, playbooks, *extra):
    return [*emulator.generated_psks(), playbooks.token, *extra]


def keep_task(path, expression):
    """Writes a part of the result that holds no key (skipped, unapplied...) for the test to read."""
    return {"name": "Keep a key-free part of the result", "ansible.builtin.copy": {
        "content": "{{ %s | to_json }}" % expression, "dest": str(path)}}


def generate_posts(emulator):
    return [r for r in emulator.requests if r.path.endswith("/psk_generate")]


def test_three_tunnels_rotate_in_one_post(playbooks, emulator, tmp_path):
    wanted = ids(emulator, "tunnel_nyc_01", "tunnel_lon_01", "tunnel_fra_01")
    routers = tmp_path / "routers"
    run = playbooks.run(play(bulk_task(emulator, ipsec_tunnel_ids=wanted), write_bulk_keys_task(routers)))
    assert run.returncode == 0, run.stdout[-3000:]
    assert sorted(handed_on(routers)) == sorted(wanted)
    assert keys_match_edge(routers, emulator), "a router got a key that is not in force"
    posts = bulk_posts(emulator)
    assert len(posts) == 1 and posts[0].query == {} and generate_posts(emulator) == []
    assert [e["id"] for e in json.loads(posts[0].body)["psks"]] == wanted
    assert run.hits(*secrets(emulator, playbooks)) == 0
    assert "changed: [localhost]" in run.stdout


def test_partial_refusal_keeps_and_hands_on_the_applied_keys(playbooks, emulator, tmp_path):
    nyc, lon, fra = ids(emulator, "tunnel_nyc_01", "tunnel_lon_01", "tunnel_fra_01")
    refused = "R" * 300  # longer than the emulator takes; passes the module's own checks
    routers, kept = tmp_path / "routers", tmp_path / "unapplied.json"
    run = playbooks.run(play(bulk_task(emulator, ipsec_tunnel_ids=[nyc, lon, fra], psks={lon: refused}),
                             write_bulk_keys_task(routers), keep_task(kept, "fleet.unapplied")))
    assert run.returncode == 0, run.stdout[-3000:]
    assert sorted(handed_on(routers)) == sorted([nyc, fra]) and keys_match_edge(routers, emulator)
    assert list(json.loads(kept.read_text())) == [lon] and emulator.edge_psk(lon) is None
    assert "[WARNING]" in run.stdout + run.stderr and lon in run.stdout + run.stderr
    assert run.hits(*secrets(emulator, playbooks, refused)) == 0


def test_fail_on_unapplied_fails_after_the_keys_are_registered(playbooks, emulator, tmp_path):
    nyc, lon = ids(emulator, "tunnel_nyc_01", "tunnel_lon_01")
    refused = "R" * 300
    routers = tmp_path / "routers"
    task = dict(bulk_task(emulator, ipsec_tunnel_ids=[nyc, lon], psks={lon: refused}, fail_on_unapplied=True),
                ignore_errors=True)
    run = playbooks.run(play(task, write_bulk_keys_task(routers),
                             {"name": "Stop", "ansible.builtin.fail": {"msg": "refused"}, "when": "fleet is failed"}))
    assert run.returncode == 2
    assert list(handed_on(routers)) == [nyc] and keys_match_edge(routers, emulator)
    assert lon in run.stdout + run.stderr and "Traceback" not in run.everything
    assert run.hits(*secrets(emulator, playbooks, refused)) == 0


def test_an_unknown_id_is_refused_before_any_post(playbooks, emulator, tmp_path):
    nyc, unknown = ids(emulator, "tunnel_nyc_01")[0], "f" * 32
    kept = tmp_path / "result.json"
    task = dict(bulk_task(emulator, ipsec_tunnel_ids=[nyc, unknown]), ignore_errors=True)
    run = playbooks.run(play(task, keep_task(kept, "fleet")))
    result = json.loads(kept.read_text())
    assert result["failed"] is True and result["changed"] is False
    assert f"ipsec_tunnel_ids: {unknown} is not among the account's" in result["msg"]
    assert bulk_posts(emulator) == [] and emulator.edge_psk(nyc) is None
    assert run.hits(*secrets(emulator, playbooks)) == 0


@pytest.mark.parametrize("option", ["psks", "router_psk_generated_on"])
def test_the_same_tunnel_by_name_and_by_id_is_refused_before_any_post(option, playbooks, emulator, tmp_path):
    nyc = ids(emulator, "tunnel_nyc_01")[0]
    values = {"psks": ("Vault-Key-By-Name-0123456789", "Vault-Key-By-Id-0123456789"), "router_psk_generated_on": ("", "")}
    by_name, by_id = values[option]
    kept = tmp_path / "result.json"
    task = dict(bulk_task(emulator, ipsec_tunnel_names=["tunnel_nyc_01"],
                          **{option: {"tunnel_nyc_01": by_name, nyc: by_id}}), ignore_errors=True)
    run = playbooks.run(play(task, keep_task(kept, "fleet")))
    result = json.loads(kept.read_text())
    assert result["failed"] is True and result["msg"].startswith(f"{option}: names tunnel {nyc} twice")
    assert bulk_posts(emulator) == [] and emulator.edge_psk(nyc) is None
    assert run.hits(*secrets(emulator, playbooks, *(v for v in (by_name, by_id) if v))) == 0


@pytest.mark.parametrize("module", ["ipsec_psk", "ipsec_psk_bulk"])
def test_a_huge_max_age_gets_a_clear_error_naming_the_option(module, playbooks, emulator, tmp_path):
    nyc = ids(emulator, "tunnel_nyc_01")[0]
    kept = tmp_path / "result.json"
    if module == "ipsec_psk":
        task = rotate_task(emulator, ipsec_tunnel_id=nyc, max_age="9" * 5000)
        task["register"] = "fleet"
    else:
        task = bulk_task(emulator, ipsec_tunnel_ids=[nyc], max_age="9" * 5000)
    run = playbooks.run(play(dict(task, ignore_errors=True), keep_task(kept, "fleet")))
    result = json.loads(kept.read_text())
    assert result["failed"] is True and result["msg"].startswith("max_age: is longer than 36500 days")
    assert "Unexpected" not in run.everything and "report this" not in run.everything
    assert emulator.requests == []


def test_a_psks_value_that_is_a_list_is_refused_before_any_request(playbooks, emulator, tmp_path):
    nyc = ids(emulator, "tunnel_nyc_01")[0]
    kept = tmp_path / "result.json"
    task = dict(bulk_task(emulator, ipsec_tunnel_ids=[nyc], psks={nyc: ["FromVaultAsList-777-0123"]}),
                ignore_errors=True)
    run = playbooks.run(play(task, keep_task(kept, "fleet")))
    result = json.loads(kept.read_text())
    assert result["failed"] is True and result["msg"].startswith(f"psks[{nyc}]: must be a string, not a list")
    assert emulator.requests == [] and run.hits("FromVaultAsList-777-0123") == 0


def test_check_mode_validates_and_hands_on_nothing(playbooks, emulator, tmp_path):
    wanted = ids(emulator, "tunnel_nyc_01", "tunnel_fra_01")
    before = {t: (emulator.edge_psk(t), emulator.tunnel(t).get("psk_metadata")) for t in wanted}
    routers = tmp_path / "routers"
    run = playbooks.run(play(bulk_task(emulator, ipsec_tunnel_ids=wanted), write_bulk_keys_task(routers)), "--check")
    assert run.returncode == 0, run.stdout[-3000:]
    assert handed_on(routers) == {}
    assert {t: (emulator.edge_psk(t), emulator.tunnel(t).get("psk_metadata")) for t in wanted} == before
    assert [r.query for r in bulk_posts(emulator)] == [{"validate_only": "true"}]
    assert "changed: [localhost]" in run.stdout
    assert run.hits(*secrets(emulator, playbooks)) == 0


def test_tunnels_by_name(playbooks, emulator, tmp_path):
    names = ["tunnel_sin_01", "tunnel_nyc_01b"]
    routers = tmp_path / "routers"
    run = playbooks.run(play(bulk_task(emulator, ipsec_tunnel_names=names), write_bulk_keys_task(routers)))
    assert run.returncode == 0, run.stdout[-3000:]
    assert sorted(handed_on(routers)) == sorted(ids(emulator, *names)) and keys_match_edge(routers, emulator)
    assert len(bulk_posts(emulator)) == 1
    assert run.hits(*secrets(emulator, playbooks)) == 0


def test_max_age_with_mixed_ages(playbooks, emulator, tmp_path):
    # Seed ages: nyc_01 12 days, fra 200 days, sin 45 days, lon and nyc_01b never keyed.
    every = ids(emulator, "tunnel_nyc_01", "tunnel_fra_01", "tunnel_sin_01", "tunnel_lon_01", "tunnel_nyc_01b")
    fresh_stamp = emulator.tunnel(every[0])["psk_metadata"]
    routers, kept = tmp_path / "routers", tmp_path / "skipped.json"
    run = playbooks.run(play(bulk_task(emulator, ipsec_tunnel_ids=every, max_age="30d"),
                             write_bulk_keys_task(routers), keep_task(kept, "fleet.skipped_tunnels")))
    assert run.returncode == 0, run.stdout[-3000:]
    assert json.loads(kept.read_text()) == [every[0]]
    assert sorted(handed_on(routers)) == sorted(every[1:]) and keys_match_edge(routers, emulator)
    assert emulator.tunnel(every[0])["psk_metadata"] == fresh_stamp
    assert [len(json.loads(r.body)["psks"]) for r in bulk_posts(emulator)] == [4]
    assert run.hits(*secrets(emulator, playbooks)) == 0


def test_keys_supplied_by_the_user(playbooks, emulator, tmp_path):
    nyc, lon = ids(emulator, "tunnel_nyc_01", "tunnel_lon_01")
    own = {nyc: "Vault-Key-Nyc-4f1b9c2e7d", "tunnel_lon_01": "Vault-Key-Lon-8a3e5d6f0b"}
    routers = tmp_path / "routers"
    plays = play(bulk_task(emulator, ipsec_tunnel_ids=[nyc, lon], psks="{{ vault_psks }}"),
                 write_bulk_keys_task(routers))
    plays[0]["vars"] = {"vault_psks": own}
    run = playbooks.run(plays, verbosity=3)
    assert run.returncode == 0, run.stdout[-3000:]
    ok = handed_on(routers) == {nyc: own[nyc], lon: own["tunnel_lon_01"]} and keys_match_edge(routers, emulator)
    assert ok, "the routers did not get the user's keys, or the edge holds others"
    assert run.hits(*secrets(emulator, playbooks, *own.values())) == 0


def test_lost_answer_is_recovered_with_the_same_keys(playbooks, emulator, tmp_path):
    wanted = ids(emulator, "tunnel_nyc_01", "tunnel_lon_01")
    emulator.push_fault(Fault("reset_after", match_path="/ipsec_tunnels/psk$"))
    routers = tmp_path / "routers"
    run = playbooks.run(play(bulk_task(emulator, ipsec_tunnel_ids=wanted, **FAST), write_bulk_keys_task(routers)))
    assert run.returncode == 0, run.stdout[-3000:]
    posts = bulk_posts(emulator)
    assert [p.fault for p in posts] == ["reset_after", None] and posts[0].body_sha256 == posts[1].body_sha256
    assert sorted(handed_on(routers)) == sorted(wanted) and keys_match_edge(routers, emulator)
    assert run.hits(*secrets(emulator, playbooks)) == 0


def test_ipsec_psk_sets_a_user_key_through_the_bulk_endpoint(playbooks, emulator, tmp_path):
    lon = ids(emulator, "tunnel_lon_01")[0]
    own = "Own-Key-From-Vault-5c8e2a9d1f"
    router = tmp_path / "router-psk"
    plays = play(rotate_task(emulator, ipsec_tunnel_id=lon, psk="{{ vault_psk }}"), write_psk_task(router))
    plays[0]["vars"] = {"vault_psk": own}
    run = playbooks.run(plays, verbosity=3)
    assert run.returncode == 0, run.stdout[-3000:]
    ok = router.read_text() == own == emulator.edge_psk(lon)
    assert ok, "the router did not get the user's key, or the edge holds another"
    assert [json.loads(r.body) for r in bulk_posts(emulator)] == [{"psks": [{"id": lon, "psk": own}]}]
    assert generate_posts(emulator) == []
    assert run.hits(own, playbooks.token) == 0


def test_ipsec_psk_key_refused_fails_clearly_and_changes_nothing(playbooks, emulator, tmp_path):
    lon = ids(emulator, "tunnel_lon_01")[0]
    refused = "R" * 300  # longer than the emulator takes; passes the module's own checks
    run = playbooks.run(play(rotate_task(emulator, ipsec_tunnel_id=lon, psk=refused)))
    assert run.returncode == 2 and "did not apply the key given in psk" in run.stdout
    assert emulator.edge_psk(lon) is None and run.hits(refused, playbooks.token) == 0


def test_ipsec_psk_bad_key_is_refused_before_any_request(playbooks, emulator):
    lon = ids(emulator, "tunnel_lon_01")[0]
    run = playbooks.run(play(rotate_task(emulator, ipsec_tunnel_id=lon, psk=" Spaced-Key-0d9f")))
    assert run.returncode == 2 and "psk: begins or ends with white space" in run.stdout
    assert emulator.requests == [] and run.hits("Spaced-Key-0d9f") == 0
