"""module_defaults through the action group cloudflare.magic.magic: account and credentials set once."""

from __future__ import annotations

from support.playbooks import seed_account, write_psk_task


def test_group_defaults_give_account_and_credentials_to_every_task(playbooks, emulator, tmp_path):
    tunnels = seed_account(emulator)["tunnels"][:2]
    router_files = [tmp_path / f"router-psk-{i}" for i in range(len(tunnels))]
    tasks = []
    for t, path in zip(tunnels, router_files):
        tasks += [{"name": f"Rotate {t['name']}", "cloudflare.magic.ipsec_psk": {"ipsec_tunnel_id": t["id"]},
                   "register": "rotation"}, write_psk_task(path)]
    plays = [{
        "name": "Defaults for the whole collection", "hosts": "localhost", "gather_facts": False,
        "module_defaults": {"group/cloudflare.magic.magic": {
            "account_id": playbooks.account_id, "api_token": playbooks.token,
            "api_base_url": emulator.base_url, "ca_path": emulator.ca_file}},
        "tasks": tasks,
    }]
    # Nothing in the environment: the defaults alone must carry the account and the credentials.
    run = playbooks.run(plays, env={"CLOUDFLARE_ACCOUNT_ID": None, "CLOUDFLARE_API_TOKEN": None,
                                    "CLOUDFLARE_BASE_URL": None})
    assert run.returncode == 0, run.stdout[-3000:]
    for t, path in zip(tunnels, router_files):
        edge = emulator.edge_psk(t["id"])
        same = bool(edge) and path.read_text() == edge
        assert same, f"the router task for {t['name']} did not get the key in force"
    posts = [r for r in emulator.requests if r.method == "POST"]
    assert len(posts) == len(tunnels)
    assert run.hits(playbooks.token, *(emulator.edge_psk(t["id"]) for t in tunnels)) == 0


def test_a_task_option_wins_over_the_group_default(playbooks, emulator):
    t = seed_account(emulator)["tunnels"][0]
    plays = [{
        "name": "A wrong default overridden by the task", "hosts": "localhost", "gather_facts": False,
        "module_defaults": {"group/cloudflare.magic.magic": {
            "account_id": "0" * 32, "api_base_url": emulator.base_url, "ca_path": emulator.ca_file}},
        "tasks": [{"name": "Rotate", "cloudflare.magic.ipsec_psk": {
            "ipsec_tunnel_id": t["id"], "account_id": playbooks.account_id}, "register": "rotation"}],
    }]
    run = playbooks.run(plays, env={"CLOUDFLARE_ACCOUNT_ID": None})
    assert run.returncode == 0, run.stdout[-3000:]
    assert emulator.edge_psk(t["id"])
    posts = [r for r in emulator.requests if r.method == "POST"]
    assert len(posts) == 1 and f"/accounts/{playbooks.account_id}/" in posts[0].path
