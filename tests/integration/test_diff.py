"""--diff shows the tunnel's psk_metadata before and after a rotation, and never the key."""

from __future__ import annotations

from support.playbooks import play, rotate_task, seed_account


def tunnel(emulator, name):
    return next(t for t in seed_account(emulator)["tunnels"] if t["name"] == name)


def test_diff_shows_when_the_key_was_generated_before_and_after(playbooks, emulator):
    t = tunnel(emulator, "tunnel_fra_01")
    before = emulator.tunnel(t["id"])["psk_metadata"]["last_generated_on"]
    run = playbooks.run(play(rotate_task(emulator, ipsec_tunnel_id=t["id"])), "--diff")
    assert run.returncode == 0, run.stdout[-3000:]
    after = emulator.tunnel(t["id"])["psk_metadata"]["last_generated_on"]
    assert after != before
    assert f"--- before: ipsec_tunnel {t['id']} psk_metadata" in run.stdout
    assert f"-last_generated_on: {before}" in run.stdout
    assert f"+last_generated_on: {after}" in run.stdout
    assert run.hits(emulator.edge_psk(t["id"]), playbooks.token) == 0


def test_diff_of_a_never_keyed_tunnel_has_no_before(playbooks, emulator):
    t = tunnel(emulator, "tunnel_lon_01")
    run = playbooks.run(play(rotate_task(emulator, ipsec_tunnel_name=t["name"])), "--diff")
    assert run.returncode == 0, run.stdout[-3000:]
    after = emulator.tunnel(t["id"])["psk_metadata"]["last_generated_on"]
    assert "-last_generated_on" not in run.stdout
    assert f"+last_generated_on: {after}" in run.stdout
    assert run.hits(emulator.edge_psk(t["id"])) == 0


def test_check_mode_diff_says_a_key_would_be_generated(playbooks, emulator):
    t = tunnel(emulator, "tunnel_fra_01")
    before = emulator.tunnel(t["id"])["psk_metadata"]["last_generated_on"]
    run = playbooks.run(play(rotate_task(emulator, ipsec_tunnel_id=t["id"], max_age="90d")), "--diff", "--check")
    assert run.returncode == 0, run.stdout[-3000:]
    assert "(a new key would be generated now)" in run.stdout and before in run.stdout
    assert emulator.edge_psk(t["id"]) is None
    assert emulator.tunnel(t["id"])["psk_metadata"]["last_generated_on"] == before


def test_diff_of_a_fresh_key_under_max_age_shows_no_change(playbooks, emulator):
    t = tunnel(emulator, "tunnel_nyc_01")
    run = playbooks.run(play(rotate_task(emulator, ipsec_tunnel_id=t["id"], max_age="90d")), "--diff")
    assert run.returncode == 0, run.stdout[-3000:]
    assert "ok: [localhost]" in run.stdout
    assert "+last_generated_on" not in run.stdout and "-last_generated_on" not in run.stdout
