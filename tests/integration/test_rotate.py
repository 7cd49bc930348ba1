"""ipsec_psk end to end: real ansible-playbook runs against the HTTPS emulator, as a user runs them."""

from __future__ import annotations

import json

from cf_emulator import Fault
from support.playbooks import play, rotate_task, seed_account, write_psk_task


def tunnel(emulator, name="tunnel_nyc_01"):
    return next(t for t in seed_account(emulator)["tunnels"] if t["name"] == name)


def api_calls(emulator):
    return [r for r in emulator.requests if r.path.startswith("/client/v4/")]


def test_rotation_hands_the_key_in_force_to_the_router_task(playbooks, emulator, tmp_path):
    t = tunnel(emulator)
    router_file = tmp_path / "router-psk"
    run = playbooks.run(play(rotate_task(emulator, ipsec_tunnel_id=t["id"]), write_psk_task(router_file)))
    assert run.returncode == 0, run.stdout[-3000:]
    edge = emulator.edge_psk(t["id"])
    same = bool(edge) and router_file.read_bytes() == edge.encode()
    assert same, "the router task did not receive the key in force at the edge"
    assert oct(router_file.stat().st_mode & 0o777) == "0o600"
    calls = api_calls(emulator)
    assert [(c.method, c.path) for c in calls] == [
        ("POST", f"/client/v4/accounts/{playbooks.account_id}/magic/ipsec_tunnels/{t['id']}/psk_generate")]
    assert calls[0].query == {}
    assert json.loads(calls[0].body) == {}
    assert calls[0].headers["Content-Type"] == "application/json"
    assert calls[0].headers["User-Agent"].startswith("cloudflare.magic (Ansible collection; Python ")
    assert calls[0].credential_name == "magic_wan_write"
    assert run.hits(edge, playbooks.token) == 0
    assert "changed: [localhost]" in run.stdout


def test_email_and_global_key_from_the_environment(playbooks, emulator, tmp_path):
    t = tunnel(emulator)
    user = emulator.user("global_key")
    router_file = tmp_path / "router-psk"
    run = playbooks.run(
        play(rotate_task(emulator, ipsec_tunnel_id=t["id"]), write_psk_task(router_file)),
        env={"CLOUDFLARE_API_TOKEN": None, "CLOUDFLARE_EMAIL": user["email"], "CLOUDFLARE_API_KEY": user["api_key"]})
    assert run.returncode == 0, run.stdout[-3000:]
    same = router_file.read_text() == emulator.edge_psk(t["id"])
    assert same, "the router task did not receive the key in force"
    assert api_calls(emulator)[0].credential_kind == "global_key"
    assert run.hits(emulator.edge_psk(t["id"]), user["api_key"]) == 0


def test_check_mode_validates_and_rotates_nothing(playbooks, emulator, tmp_path):
    t = tunnel(emulator, "tunnel_nyc_01b")
    before = emulator.edge_psk(t["id"])
    metadata_before = emulator.tunnel(t["id"]).get("psk_metadata")
    router_file = tmp_path / "router-psk"
    run = playbooks.run(play(rotate_task(emulator, ipsec_tunnel_id=t["id"]), write_psk_task(router_file)), "--check")
    assert run.returncode == 0, run.stdout[-3000:]
    calls = api_calls(emulator)
    assert [(c.method, c.query) for c in calls] == [("POST", {"validate_only": "true"})]
    unchanged = emulator.edge_psk(t["id"]) == before
    assert unchanged, "the edge key changed"
    assert emulator.tunnel(t["id"]).get("psk_metadata") == metadata_before
    assert not router_file.exists(), "check mode handed a key to the router task"
    assert "changed: [localhost]" in run.stdout


def failure(playbooks, emulator, tunnel_id, env=None):
    run = playbooks.run(play(rotate_task(emulator, ipsec_tunnel_id=tunnel_id)), env=env)
    assert run.returncode == 2
    assert "Traceback" not in run.everything
    return run


def test_unknown_token_fails_with_cloudflare_code(playbooks, emulator):
    fake = "A" * 40
    run = failure(playbooks, emulator, tunnel(emulator)["id"], env={"CLOUDFLARE_API_TOKEN": fake})
    assert "Cloudflare API answered HTTP 401: authentication failed ([10000] Authentication error)" in run.stdout
    assert run.hits(fake) == 0


def test_token_without_write_permission_is_refused(playbooks, emulator):
    t = tunnel(emulator)
    before = emulator.edge_psk(t["id"])
    run = failure(playbooks, emulator, t["id"], env={"CLOUDFLARE_API_TOKEN": emulator.token("magic_wan_read")})
    assert "HTTP 403: permission denied ([10000]" in run.stdout
    unchanged = emulator.edge_psk(t["id"]) == before
    assert unchanged, "the edge key changed"
    assert run.hits(emulator.token("magic_wan_read")) == 0


def test_unknown_tunnel_is_reported(playbooks, emulator):
    run = failure(playbooks, emulator, "0" * 32)
    assert "HTTP 404" in run.stdout and "[7003]" in run.stdout


def test_invalid_identifier_sends_no_request(playbooks, emulator):
    run = failure(playbooks, emulator, "../../user/tokens/verify")
    assert "ipsec_tunnel_id: must be 32 hexadecimal characters" in run.stdout
    assert api_calls(emulator) == []


def test_success_false_on_http_200_fails_the_task(playbooks, emulator):
    t = tunnel(emulator)
    before = emulator.edge_psk(t["id"])
    emulator.push_fault(Fault("success_false"))
    run = failure(playbooks, emulator, t["id"])
    assert "Cloudflare API answered HTTP 200: success: false" in run.stdout
    unchanged = emulator.edge_psk(t["id"]) == before
    assert unchanged, "the edge key changed"


def test_nothing_secret_reaches_stdout_or_log_path_at_vvvv(playbooks, emulator, tmp_path):
    t = tunnel(emulator)
    router_file = tmp_path / "router-psk"
    run = playbooks.run(play(rotate_task(emulator, ipsec_tunnel_id=t["id"]), write_psk_task(router_file)),
                        verbosity=4)
    assert run.returncode == 0, run.stdout[-3000:]
    edge = emulator.edge_psk(t["id"])
    assert len(run.log_text) > 1000 and "TASK [Rotate]" in run.log_text
    assert run.hits(edge, playbooks.token) == 0
    same = router_file.read_text() == edge
    assert same, "router task got another key"


def test_validate_certs_false_reaches_a_server_with_an_unknown_certificate(playbooks, emulator, tmp_path):
    t = tunnel(emulator)
    router_file = tmp_path / "router-psk"
    run = playbooks.run(play(rotate_task(emulator, ipsec_tunnel_id=t["id"], validate_certs=False),
                             write_psk_task(router_file)))
    assert run.returncode == 0, run.stdout[-3000:]
    same = router_file.read_text() == emulator.edge_psk(t["id"])
    assert same, "the router task did not receive the key in force"
