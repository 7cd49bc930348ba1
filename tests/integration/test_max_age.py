"""max_age: rotate only keys that are older (or of unknown age); a fresh key leaves everything alone."""

from __future__ import annotations

import pytest

from support.playbooks import play, rotate_task, seed_account, write_psk_task
from support.results import api_calls, load_result, save_result_task

# Ages in the default seed: nyc_01 12 days, nyc_01b a fixed 2025 date, lon_01 never keyed, fra_01 200 days.


def tunnel(emulator, name):
    return next(t for t in seed_account(emulator)["tunnels"] if t["name"] == name)


def rotate_and_hand_on(playbooks, emulator, tmp_path, *args, **options):
    saved, router_file = tmp_path / "result.json", tmp_path / "router-psk"
    run = playbooks.run(play(rotate_task(emulator, **options), write_psk_task(router_file),
                             save_result_task(saved)), *args)
    assert run.returncode == 0, run.stdout[-3000:]
    return run, load_result(saved), router_file


def test_fresh_key_is_left_alone_and_the_router_task_skipped(playbooks, emulator, tmp_path):
    t = tunnel(emulator, "tunnel_nyc_01")
    before = emulator.tunnel(t["id"])["psk_metadata"]
    run, result, router_file = rotate_and_hand_on(playbooks, emulator, tmp_path,
                                                  ipsec_tunnel_id=t["id"], max_age="90d")
    assert result["changed"] is False and result["has_psk"] is False
    assert result["psk_metadata"] == before and result["tunnel"]["name"] == "tunnel_nyc_01"
    assert not router_file.exists()
    assert "skipping: [localhost]" in run.stdout
    assert api_calls(emulator) == [("GET", t["id"])]
    assert emulator.edge_psk(t["id"]) is None
    assert emulator.tunnel(t["id"])["psk_metadata"] == before


@pytest.mark.parametrize("name, max_age", [("tunnel_fra_01", "90d"), ("tunnel_lon_01", "90d"),
                                           ("tunnel_nyc_01", "12h"), ("tunnel_nyc_01", 86400 * 5)])
def test_older_or_never_generated_key_is_rotated(playbooks, emulator, tmp_path, name, max_age):
    t = tunnel(emulator, name)
    run, result, router_file = rotate_and_hand_on(playbooks, emulator, tmp_path,
                                                  ipsec_tunnel_id=t["id"], max_age=max_age)
    edge = emulator.edge_psk(t["id"])
    handed_on = router_file.read_text() == edge
    assert result["changed"] is True and result["has_psk"] is True
    assert edge and handed_on, "the router task did not get the key in force"
    assert result["psk_metadata"] == emulator.tunnel(t["id"])["psk_metadata"]
    assert api_calls(emulator) == [("GET", t["id"]), ("POST", "psk_generate")]
    assert run.hits(edge, playbooks.token) == 0


def test_a_scheduled_run_is_idempotent(playbooks, emulator, tmp_path):
    t = tunnel(emulator, "tunnel_fra_01")
    rotate_and_hand_on(playbooks, emulator, tmp_path, ipsec_tunnel_name=t["name"], max_age="30d")
    first_key = emulator.edge_psk(t["id"])
    emulator.clear_requests()
    second = tmp_path / "second"
    second.mkdir()
    _unused, result, _unused = rotate_and_hand_on(playbooks, emulator, second, ipsec_tunnel_name=t["name"], max_age="30d")
    unchanged = emulator.edge_psk(t["id"]) == first_key
    assert result["changed"] is False and unchanged, "the second run rotated again"
    assert api_calls(emulator) == [("GET", "ipsec_tunnels")]


@pytest.mark.parametrize("name, would_rotate", [("tunnel_nyc_01", False), ("tunnel_fra_01", True)])
def test_check_mode_reports_whether_a_run_would_rotate(playbooks, emulator, tmp_path, name, would_rotate):
    t = tunnel(emulator, name)
    before = emulator.tunnel(t["id"]).get("psk_metadata")
    run, result, router_file = rotate_and_hand_on(playbooks, emulator, tmp_path, "--check",
                                                  ipsec_tunnel_id=t["id"], max_age="90d")
    assert result["changed"] is would_rotate and result["has_psk"] is False
    assert not router_file.exists()
    assert emulator.edge_psk(t["id"]) is None
    assert emulator.tunnel(t["id"]).get("psk_metadata") == before
    posts = [r for r in emulator.requests if r.method == "POST"]
    if would_rotate:
        assert len(posts) == 1 and posts[0].query.get("validate_only") == "true"
    else:
        assert posts == []


@pytest.mark.parametrize("bad", ["ninety days", "0", "-5", "90 weeks", "1.5h", "90", "3m"])
def test_bad_max_age_fails_clearly_before_any_request(playbooks, emulator, bad):
    t = tunnel(emulator, "tunnel_nyc_01")
    run = playbooks.run(play(rotate_task(emulator, ipsec_tunnel_id=t["id"], max_age=bad)))
    assert run.returncode != 0
    assert "max_age" in run.stdout and "90d" in run.stdout
    assert "Traceback" not in run.everything
    assert emulator.requests == []
