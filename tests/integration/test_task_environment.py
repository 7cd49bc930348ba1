"""The ``environment:`` keyword of a task or a play gives the CLOUDFLARE_* variables for that task, as if set
on the controller; explicit options still win. The seed's second account (B) is the one the keyword names,
while the controller's environment holds the first account's (A) credentials."""

from __future__ import annotations

from support.playbooks import play, rotate_task


def account_b(emulator):
    account = emulator.seed["accounts"][1]
    return account["id"], account["tunnels"][0]["id"], emulator.token("other_account_write")


def rotated_accounts(emulator):
    return {r.path.split("/accounts/")[1].split("/")[0] for r in emulator.requests if "/accounts/" in r.path}


def edge_keys_of_account_a(emulator):
    return [emulator.edge_psk(t["id"]) for t in emulator.seed["accounts"][0]["tunnels"]]


def b_environment(emulator):
    b_account, b_token = account_b(emulator)[0], account_b(emulator)[2]
    # Templated like any keyword: the token comes from a variable.
    return {"CLOUDFLARE_ACCOUNT_ID": b_account, "CLOUDFLARE_API_TOKEN": "{{ b_token }}"}


def run_with(playbooks, emulator, plays):
    plays[0]["vars"] = {"b_token": account_b(emulator)[2]}
    return playbooks.run(plays)


def test_task_environment_gives_the_credentials(playbooks, emulator):
    b_account, b_tunnel, b_token = account_b(emulator)
    a_keys = edge_keys_of_account_a(emulator)
    task = dict(rotate_task(emulator, ipsec_tunnel_id=b_tunnel), environment=b_environment(emulator))
    run = run_with(playbooks, emulator, play(task))
    assert run.returncode == 0, run.stdout[-2000:]
    assert rotated_accounts(emulator) == {b_account}
    assert {r.credential_name for r in emulator.requests} == {"other_account_write"}
    assert emulator.edge_psk(b_tunnel) is not None
    assert edge_keys_of_account_a(emulator) == a_keys
    assert run.hits(b_token, playbooks.token, emulator.edge_psk(b_tunnel)) == 0


def test_play_environment_gives_the_credentials(playbooks, emulator):
    b_account, b_tunnel = account_b(emulator)[:2]
    plays = play(rotate_task(emulator, ipsec_tunnel_id=b_tunnel))
    plays[0]["environment"] = b_environment(emulator)
    run = run_with(playbooks, emulator, plays)
    assert run.returncode == 0, run.stdout[-2000:]
    assert rotated_accounts(emulator) == {b_account}
    assert {r.credential_name for r in emulator.requests} == {"other_account_write"}


def test_task_environment_wins_over_the_plays(playbooks, emulator):
    b_account, b_tunnel = account_b(emulator)[:2]
    plays = play(dict(rotate_task(emulator, ipsec_tunnel_id=b_tunnel), environment=b_environment(emulator)))
    plays[0]["environment"] = {"CLOUDFLARE_ACCOUNT_ID": playbooks.account_id, "CLOUDFLARE_API_TOKEN": "wrong"}
    run = run_with(playbooks, emulator, plays)
    assert run.returncode == 0, run.stdout[-2000:]
    assert rotated_accounts(emulator) == {b_account}


def test_explicit_options_win_over_the_environment_keyword(playbooks, emulator):
    a_tunnel = emulator.seed["accounts"][0]["tunnels"][0]["id"]
    task = dict(rotate_task(emulator, ipsec_tunnel_id=a_tunnel, account_id=playbooks.account_id,
                            api_token=playbooks.token), environment=b_environment(emulator))
    run = run_with(playbooks, emulator, play(task))
    assert run.returncode == 0, run.stdout[-2000:]
    assert rotated_accounts(emulator) == {playbooks.account_id}
    assert {r.credential_name for r in emulator.requests} == {"magic_wan_write"}
    assert emulator.edge_psk(a_tunnel) is not None
