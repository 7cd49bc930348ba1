"""ipsec_tunnel_name: the tunnel is found through the list endpoint; no match means no rotation."""

from __future__ import annotations

from cf_emulator import Emulator
from support.playbooks import PlaybookRunner, play, rotate_task, seed_account, write_psk_task
from support.results import api_calls, load_result, save_result_task


def by_name(emulator, name):
    return next(t for t in seed_account(emulator)["tunnels"] if t["name"] == name)


def test_rotates_the_named_tunnel_and_returns_what_the_router_needs(playbooks, emulator, tmp_path):
    t = by_name(emulator, "tunnel_nyc_01b")
    router_file, saved = tmp_path / "router-psk", tmp_path / "result.json"
    run = playbooks.run(play(rotate_task(emulator, ipsec_tunnel_name="tunnel_nyc_01b"),
                             write_psk_task(router_file), save_result_task(saved)))
    assert run.returncode == 0, run.stdout[-3000:]
    edge = emulator.edge_psk(t["id"])
    handed_on = router_file.read_text() == edge
    assert edge and handed_on, "the router task did not get the key in force"
    result = load_result(saved)
    assert result["changed"] is True and result["has_psk"] is True
    assert result["ipsec_tunnel_id"] == t["id"]
    assert "ipsec_id" not in result  # the published psk_generate answer has none, and the module makes none up
    for field in ("name", "cloudflare_endpoint", "customer_endpoint", "interface_address", "replay_protection"):
        assert result["tunnel"][field] == t[field], field
    assert "psk" not in result["tunnel"]
    assert result["tunnel"]["psk_metadata"] == result["psk_metadata"]
    assert api_calls(emulator) == [("GET", "ipsec_tunnels"), ("POST", "psk_generate")]
    assert [r.path for r in emulator.requests][1].endswith(f"/{t['id']}/psk_generate")
    assert run.hits(edge, playbooks.token) == 0


def test_ipsec_id_is_returned_when_cloudflares_answer_holds_one(tmp_path):
    with Emulator(state_dir=str(tmp_path / "emulator"), psk_generate_ipsec_id=True) as emulator:
        t = by_name(emulator, "tunnel_sin_01")
        saved = tmp_path / "result.json"
        run = PlaybookRunner(tmp_path / "run", emulator).run(
            play(rotate_task(emulator, ipsec_tunnel_name="tunnel_sin_01"), save_result_task(saved)))
        assert run.returncode == 0, run.stdout[-3000:]
        assert load_result(saved)["ipsec_id"] == emulator.ipsec_id(t["id"])


def test_no_tunnel_of_that_name_fails_and_rotates_nothing(playbooks, emulator, tmp_path):
    run = playbooks.run(play(rotate_task(emulator, ipsec_tunnel_name="tunnel_nyc_1"),
                             write_psk_task(tmp_path / "router-psk")))
    assert run.returncode != 0
    assert "ipsec_tunnel_name: 0 of the account's 5 IPsec tunnels are named 'tunnel_nyc_1'" in run.stdout
    assert "no key was rotated" in run.stdout
    assert "Traceback" not in run.everything
    assert api_calls(emulator) == [("GET", "ipsec_tunnels")]
    assert not (tmp_path / "router-psk").exists()


def test_name_of_a_tunnel_in_another_account_is_not_found(playbooks, emulator):
    run = playbooks.run(play(rotate_task(emulator, ipsec_tunnel_name="tunnel_ams_01")))
    assert run.returncode != 0
    assert "0 of the account's 5 IPsec tunnels are named 'tunnel_ams_01'" in run.stdout
    assert all(r.method == "GET" for r in emulator.requests)


def test_name_and_id_together_are_refused_before_any_request(playbooks, emulator):
    t = by_name(emulator, "tunnel_nyc_01")
    run = playbooks.run(play(rotate_task(emulator, ipsec_tunnel_name=t["name"], ipsec_tunnel_id=t["id"])))
    assert run.returncode != 0
    assert "mutually exclusive: ipsec_tunnel_id|ipsec_tunnel_name" in run.stdout
    assert emulator.requests == []


def test_empty_name_is_refused_before_any_request(playbooks, emulator):
    run = playbooks.run(play(rotate_task(emulator, ipsec_tunnel_name="  ")))
    assert run.returncode != 0
    assert "ipsec_tunnel_name" in run.stdout and "Traceback" not in run.everything
    assert emulator.requests == []
