"""ipsec_psk end to end: real ansible-playbook runs against the HTTPS emulator."""

from __future__ import annotations

from support.playbooks import play, rotate_task, seed_account, write_psk_task


def tunnel(emulator, name="tunnel_nyc_01"):
    return next(t for t in seed_account(emulator)["tunnels"] if t["name"] == name)


def test_rotation_hands_the_key_in_force_to_the_router_task(playbooks, emulator, tmp_path):
    t = tunnel(emulator)
    router_file = tmp_path / "router-psk"
    run = playbooks.run(play(rotate_task(emulator, ipsec_tunnel_id=t["id"]), write_psk_task(router_file)))
    assert run.returncode == 0, run.stdout[-3000:]
    edge = emulator.edge_psk(t["id"])
    assert edge and router_file.read_text() == edge
    posts = [r for r in emulator.requests if r.method == "POST"]
    assert len(posts) == 1 and posts[0].path.endswith(f"/ipsec_tunnels/{t['id']}/psk_generate")
    assert run.hits(edge, playbooks.token) == 0
