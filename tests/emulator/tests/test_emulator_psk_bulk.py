"""POST .../ipsec_tunnels/psk: keys set in bulk, refusals per entry, validate_only, auth, faults, rate limits."""

from __future__ import annotations

import json
import re

import pytest
import requests
from emulator_client import ApiClient, assert_same_secret, error_codes

from cf_emulator import Emulator, Fault

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


def bulk(client, account_id, entries, validate_only=None, **kwargs):
    params = {"validate_only": validate_only} if validate_only is not None else None
    kwargs.setdefault("json", {"psks": entries})
    return client.post(f"/accounts/{account_id}/magic/ipsec_tunnels/psk", params=params, **kwargs)


def test_every_entry_is_applied_in_one_request(emu, writer, account_id, tunnel_ids):
    ids = [tunnel_ids["tunnel_nyc_01"], tunnel_ids["tunnel_lon_01"], tunnel_ids["tunnel_sin_01"]]
    keys = {tid: f"key-{n}-Ab3_x" for n, tid in enumerate(ids)}
    answer = bulk(writer, account_id, [{"id": tid, "psk": keys[tid]} for tid in ids])
    assert answer.status_code == 200
    result = answer.json()["result"]
    assert set(result) == {"successfully_applied_psks", "unapplied_psks"}
    assert result["unapplied_psks"] == {}
    applied = result["successfully_applied_psks"]
    assert sorted(applied) == sorted(ids)
    for tid in ids:
        entry = applied[tid]
        assert set(entry) == {"ipsec_id", "ipsec_tunnel_id", "psk", "psk_metadata"}
        assert entry["ipsec_tunnel_id"] == tid and entry["ipsec_id"] == emu.ipsec_id(tid)
        assert_same_secret(entry["psk"], keys[tid], "answered key")
        assert_same_secret(emu.edge_psk(tid), keys[tid], "edge key")
        assert STAMP.match(entry["psk_metadata"]["last_generated_on"])
        assert emu.tunnel(tid)["psk_metadata"] == entry["psk_metadata"]
    posts = [r for r in emu.requests if r.method == "POST"]
    assert len(posts) == 1 and posts[0].path.endswith("/magic/ipsec_tunnels/psk")
    assert posts[0].credential_name == "magic_wan_write"


def test_ipsec_id_is_answered_whatever_the_psk_generate_switch(tmp_path, account_id):
    with Emulator(state_dir=str(tmp_path / "s"), psk_generate_ipsec_id=False) as emu:
        tid = emu.seed["accounts"][0]["tunnels"][0]["id"]
        with ApiClient(emu, token=emu.token("magic_wan_write")) as client:
            applied = bulk(client, emu.account_id, [{"id": tid, "psk": "abc"}]).json()["result"]
        assert applied["successfully_applied_psks"][tid]["ipsec_id"] == emu.ipsec_id(tid)


@pytest.mark.parametrize("bad_key, reason", [
    ("", "empty"), (" lead", "white space"), ("trail\t", "white space"), ("in\nside", "control"),
    ("x\x00y", "control"), ("k" * 256, "at most"), (42, "string"), (None, "string")])
def test_refused_keys_are_unapplied_and_the_rest_applied(emu, writer, account_id, tunnel_ids, bad_key, reason):
    good, bad = tunnel_ids["tunnel_nyc_01"], tunnel_ids["tunnel_lon_01"]
    before = emu.edge_psk(bad)
    answer = bulk(writer, account_id, [{"id": good, "psk": "fine-key"}, {"id": bad, "psk": bad_key}])
    assert answer.status_code == 200
    result = answer.json()["result"]
    assert list(result["successfully_applied_psks"]) == [good]
    assert list(result["unapplied_psks"]) == [bad] and reason in result["unapplied_psks"][bad]
    assert emu.edge_psk(bad) == before
    assert_same_secret(emu.edge_psk(good), "fine-key", "applied key")


def test_longest_key_taken(emu, writer, account_id, tunnel_ids):
    tid = tunnel_ids["tunnel_nyc_01"]
    result = bulk(writer, account_id, [{"id": tid, "psk": "k" * 255}]).json()["result"]
    assert list(result["successfully_applied_psks"]) == [tid]


def test_unknown_and_repeated_tunnels_are_unapplied(emu, writer, account_id, tunnel_ids):
    nyc, lon = tunnel_ids["tunnel_nyc_01"], tunnel_ids["tunnel_lon_01"]
    before = emu.edge_psk(lon)
    entries = [{"id": "f" * 32, "psk": "a"}, {"id": "not-an-id", "psk": "b"}, {"id": lon, "psk": "c"},
               {"id": lon, "psk": "d"}, {"id": nyc, "psk": "e"}]
    result = bulk(writer, account_id, entries).json()["result"]
    assert list(result["successfully_applied_psks"]) == [nyc]
    assert set(result["unapplied_psks"]) == {"f" * 32, "not-an-id", lon}
    assert "not found" in result["unapplied_psks"]["f" * 32]
    assert "more than once" in result["unapplied_psks"][lon]
    assert emu.edge_psk(lon) == before


def test_tunnel_of_another_account_is_unknown(emu, writer, account_id):
    others = [t["id"] for a in emu.seed["accounts"][1:] for t in a.get("tunnels", [])]
    if not others:
        pytest.skip("the default seed has no tunnel in a second account")
    result = bulk(writer, account_id, [{"id": others[0], "psk": "a"}]).json()["result"]
    assert list(result["unapplied_psks"]) == [others[0]]


def test_validate_only_persists_nothing(emu, writer, account_id, tunnel_ids):
    tid = tunnel_ids["tunnel_nyc_01"]
    bulk(writer, account_id, [{"id": tid, "psk": "in-force"}])
    before = emu.tunnel(tid)
    answer = bulk(writer, account_id, [{"id": tid, "psk": "decoy"}, {"id": "f" * 32, "psk": "x"}],
                  validate_only="true")
    result = answer.json()["result"]
    assert list(result["successfully_applied_psks"]) == [tid] and list(result["unapplied_psks"]) == ["f" * 32]
    assert_same_secret(emu.edge_psk(tid), "in-force", "edge key after validate_only")
    assert emu.tunnel(tid) == before
    assert emu.requests[-1].query == {"validate_only": "true"}


@pytest.mark.parametrize("body", [{}, {"psks": {}}, {"psks": [["id", "psk"]]}, {"psks": [{"psk": "a"}]}, []])
def test_malformed_bodies_fail_as_a_whole(emu, writer, account_id, body):
    answer = bulk(writer, account_id, None, json=body)
    assert answer.status_code == 400 and answer.json()["success"] is False
    assert answer.json()["result"] is None


def test_too_many_entries_fail_as_a_whole(emu, writer, account_id, tunnel_ids):
    tid = tunnel_ids["tunnel_lon_01"]
    entries = [{"id": tid, "psk": "a"}] + [{"id": f"{n:032x}", "psk": "a"} for n in range(1000)]
    answer = bulk(writer, account_id, entries)
    assert answer.status_code == 400 and error_codes(answer) == [1001]
    assert emu.edge_psk(tid) is None


def test_read_token_and_bad_query_are_refused(emu, account_id, tunnel_ids):
    tid = tunnel_ids["tunnel_lon_01"]
    with ApiClient(emu, token=emu.token("magic_wan_read")) as reader:
        assert bulk(reader, account_id, [{"id": tid, "psk": "a"}]).status_code == 403
    with ApiClient(emu, token=emu.token("magic_wan_write")) as writer:
        assert bulk(writer, account_id, [{"id": tid, "psk": "a"}], validate_only="maybe").status_code == 400
        assert writer.get(f"/accounts/{account_id}/magic/ipsec_tunnels/psk").status_code == 405
        assert bulk(writer, "nope", [{"id": tid, "psk": "a"}]).status_code == 400
    assert emu.edge_psk(tid) is None


def test_reset_after_persists_the_keys_and_loses_the_answer(emu, writer, account_id, tunnel_ids):
    tid = tunnel_ids["tunnel_lon_01"]
    emu.push_fault(Fault("reset_after", match_path="/ipsec_tunnels/psk$"))
    with pytest.raises(requests.exceptions.ConnectionError):
        bulk(writer, account_id, [{"id": tid, "psk": "persisted"}])
    assert_same_secret(emu.edge_psk(tid), "persisted", "edge key after a lost answer")
    assert emu.requests[-1].fault == "reset_after" and emu.requests[-1].status is None
    again = bulk(writer, account_id, [{"id": tid, "psk": "persisted"}]).json()["result"]
    assert list(again["successfully_applied_psks"]) == [tid]


def test_answer_replacing_fault_persists_nothing(emu, writer, account_id, tunnel_ids):
    tid = tunnel_ids["tunnel_lon_01"]
    emu.push_fault(Fault("server_error_json"))
    assert bulk(writer, account_id, [{"id": tid, "psk": "a"}]).status_code == 500
    assert emu.edge_psk(tid) is None


def test_bulk_requests_count_against_the_rate_limit(tmp_path):
    with Emulator(state_dir=str(tmp_path / "s"), ratelimit_quota=2, ratelimit_window=60, ratelimit_block=60) as emu:
        tid = emu.seed["accounts"][0]["tunnels"][0]["id"]
        with ApiClient(emu, token=emu.token("magic_wan_write")) as client:
            statuses = [bulk(client, emu.account_id, [{"id": tid, "psk": f"k{n}"}]).status_code for n in range(3)]
        assert statuses == [200, 200, 429]
        assert_same_secret(emu.edge_psk(tid), "k1", "edge key after a throttled request")


def test_record_keeps_the_body_out_of_the_control_view(emu, writer, account_id, tunnel_ids):
    tid = tunnel_ids["tunnel_lon_01"]
    bulk(writer, account_id, [{"id": tid, "psk": "secret-value"}])
    shown = json.dumps(emu.requests[-1].to_json())
    assert shown.count("secret-value") == 0
