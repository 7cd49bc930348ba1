"""A fleet of 300 tunnels rotated with one cloudflare.magic.ipsec_psk_bulk task and escrowed with the role's
escrow_fleet entry point (the bulk path's one write per tunnel, one after the other, paced) against a real OpenBao
server, before the routers' hand-off task: one ansible-playbook run.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import pytest

from cf_emulator import Emulator
from cf_emulator.seed import seed_with_tunnels
from support.bulk import bulk_posts
from support.playbooks import PlaybookRunner

FLEET = 300
PACE = 0.01  # seconds between two writes


def vault_time(text):
    """OpenBao's created_time (RFC 3339, nanoseconds) as a datetime."""
    return datetime.fromisoformat(text[:26].rstrip("Z") + "+00:00")


@pytest.mark.slow(reason=("300 tunnels: one bulk rotation, then 300 escrow writes one after the other (a lookup "
                          "each, paced) in one ansible-playbook run; about 40 s on two shared cores"))
def test_a_fleet_of_300_is_escrowed_one_write_a_tunnel_before_any_router_gets_its_key(
        tmp_path, openbao, hashi_vault_path, monkeypatch):
    emulator = Emulator(seed=seed_with_tunnels(FLEET), tls=True, state_dir=str(tmp_path / "emulator")).start()
    try:
        monkeypatch.setenv("ANSIBLE_COLLECTIONS_PATH", os.pathsep.join(
            p for p in (hashi_vault_path, os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")) if p))
        runner = PlaybookRunner(tmp_path / "run", emulator)
        mount = openbao.new_mount()
        fleet = {t["id"]: t for t in emulator.tunnels(emulator.account_id) if t["name"].startswith("fleet_")}
        routers = tmp_path / "routers.json"
        playbook = [{"name": "Rotate the fleet, escrow every key, then hand the keys on", "hosts": "localhost",
                     "gather_facts": False, "tasks": [
                         {"name": "Rotate the fleet", "cloudflare.magic.ipsec_psk_bulk": {
                             "ipsec_tunnel_ids": sorted(fleet), "ca_path": emulator.ca_file}, "register": "fleet"},
                         {"name": "Escrow every key", "ansible.builtin.include_role": {
                             "name": "cloudflare.magic.tunnel_psk", "tasks_from": "escrow_fleet"},
                          "vars": {"tunnel_psk_escrow_keys": "{{ fleet.rotated }}", "tunnel_psk_escrow_mount": mount,
                                   "tunnel_psk_escrow_path": "cloudflare-magic/lab/{{ tunnel_psk_tunnel_name }}",
                                   "tunnel_psk_escrow_pace": PACE}},
                         # The routers' side, in one task: each tunnel's key, as its router would be handed it.
                         {"name": "Hand the keys on", "ansible.builtin.copy": {
                             "content": "{{ dict(fleet.rotated.keys() | zip(fleet.rotated.values() "
                                        "| map(attribute='psk'))) | to_json }}",
                             "dest": str(routers), "mode": "0600"}, "no_log": True},
                         {"name": "Say what the escrow refused", "ansible.builtin.debug": {
                             "msg": "refused {{ tunnel_psk_escrow_refused | length }} of "
                                    "{{ tunnel_psk_escrow_versions | length }}"}}]}]
        run = runner.run(playbook, env={"VAULT_ADDR": openbao.url, "VAULT_TOKEN": openbao.root_token})
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
        assert f"refused 0 of {FLEET}" in run.stdout
        assert len(bulk_posts(emulator)) == -(-FLEET // 100)  # requests of up to 100 tunnels

        handed = json.loads(routers.read_text())
        handed_at = datetime.fromtimestamp(routers.stat().st_mtime, timezone.utc)
        written = []
        for tid, tunnel in fleet.items():
            secret = openbao.read(mount, f"cloudflare-magic/lab/{tunnel['name']}")
            edge = emulator.tunnel(tid)["psk_metadata"]["last_generated_on"]
            assert secret["metadata"]["version"] == 1, tunnel["name"]  # one write per tunnel
            data = secret["data"]
            assert data["psk"] == emulator.edge_psk(tid) == handed[tid], f"{tunnel['name']}: escrowed key not in force"
            assert (data["last_generated_on"], data["ipsec_tunnel_id"], data["tunnel_name"]) == (edge, tid, tunnel["name"])
            written.append(vault_time(secret["metadata"]["created_time"]))
            described = openbao.metadata(mount, f"cloudflare-magic/lab/{tunnel['name']}")["custom_metadata"]
            assert described == {"version": "1", "last_generated_on": edge, "ipsec_tunnel_id": tid}
        written.sort()
        assert written[-1] < handed_at, "a router got its key before the last tunnel was escrowed"
        gaps = [(b - a).total_seconds() for a, b in zip(written, written[1:])]
        assert min(gaps) >= PACE * 0.9, f"two writes closer than the pace: {min(gaps)} s"  # one after the other
        secrets = list(emulator.generated_psks()) + [openbao.root_token, runner.token]
        assert run.hits(*secrets) == 0, "a key or a token in the run's output or log"
    finally:
        emulator.stop()
