"""The escrow (tunnel_psk_escrow) against a real OpenBao server: a router restored from the escrow against a
rotation, for one strongSwan router (the role, interleaved rounds); and what escrow adds per tunnel to a bulk
rotation (ipsec_psk_bulk, then the role's escrow_fleet pass, the bulk path's one write per tunnel, against the
same run without it). The emulator runs in this process (as in the tests), OpenBao in its own.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import yaml

from cf_emulator import Emulator
from cf_emulator.seed import seed_with_tunnels
from measure import run_measured
from support.ipsec_example_runs import LOADED, StrongswanRouter
from support.openbao import OpenBao
from support.playbooks import PlaybookRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import network_collections  # noqa: E402

RESTORE_HEADER = f"{'run':<22}{'rounds':>7}{'median s':>10}{'POSTs':>7}  router holds the key in force"
BULK_HEADER = f"{'bulk run':<22}{'tunnels':>8}{'median s':>10}{'escrowed':>10}"


class _Escrow:
    """OpenBao and community.hashi_vault on the collections path, for the length of a ``with``."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in ("ANSIBLE_COLLECTIONS_PATH", "VAULT_ADDR", "VAULT_TOKEN")}
        hashi_vault = network_collections.ensure(Path(__file__).resolve().parents[2] / ".venv" / "network-collections")
        self.bao = OpenBao(self.workdir / "openbao").start()
        os.environ["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(
            p for p in (str(hashi_vault), self.saved["ANSIBLE_COLLECTIONS_PATH"] or "") if p)
        os.environ["VAULT_ADDR"], os.environ["VAULT_TOKEN"] = self.bao.url, self.bao.root_token
        return self.bao

    def __exit__(self, *exc):
        self.bao.stop()
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def restore_vs_rotate(workdir, rounds):
    """[(run, seconds list, POSTs list, all held)] for 'restore from escrow' and 'rotate', interleaved."""
    workdir = Path(workdir)
    with _Escrow(workdir) as bao:
        emulator = Emulator(tls=True, state_dir=str(workdir / "emulator")).start()
        try:
            router = StrongswanRouter(workdir / "router", emulator)
            playbook = workdir / "role.yml"
            playbook.write_text(yaml.safe_dump([{"name": "Escrow", "hosts": "router", "gather_facts": False,
                                                 "roles": ["cloudflare.magic.tunnel_psk"]}]))
            inputs = {"tunnel_psk_platform": "strongswan", "tunnel_psk_tunnel_name": router.tunnel["name"],
                      "tunnel_psk_swanctl_conf_dir": str(router.conf_dir), "tunnel_psk_ca_path": emulator.ca_file,
                      "tunnel_psk_swanctl_load_command": ["cp", str(router.config), str(router.conf_dir.parent / LOADED)],
                      "tunnel_psk_verify": False, "tunnel_psk_ike_id": "router.example.net", "tunnel_psk_escrow": True,
                      "tunnel_psk_escrow_mount": bao.new_mount(), "tunnel_psk_escrow_path": "cloudflare-magic/bench/t"}
            first = router.run("first", playbook=playbook, **inputs)
            if first.returncode != 0:
                raise RuntimeError(f"the first escrowed rotation failed:\n{first.run.stdout[-3000:]}")
            results = {"restore from escrow": ([], [], True), "rotate": ([], [], True)}
            for number in range(rounds):
                order = ("restore from escrow", "rotate") if number % 2 == 0 else ("rotate", "restore from escrow")
                for what in order:
                    extra = {}
                    if what == "rotate":
                        extra = {"tunnel_psk_max_age": "1s", "tunnel_psk_allow_short_max_age": True}
                    else:  # a replaced router: no configuration, nothing loaded
                        router.config.unlink()
                        (router.conf_dir.parent / LOADED).unlink()
                    start = time.perf_counter()
                    done = router.run(what, playbook=playbook, **inputs, **extra)
                    seconds = time.perf_counter() - start
                    if done.returncode != 0:
                        raise RuntimeError(f"{what} failed:\n{done.run.stdout[-3000:]}")
                    held = router.loaded_key() == emulator.edge_psk(router.tunnel["id"])
                    times, posts, ok = results[what]
                    times.append(seconds)
                    posts.append(done.posts)
                    results[what] = (times, posts, ok and held)
            secrets = [*emulator.generated_psks(), bao.root_token]
            if any(r.run.hits(*secrets) for r in router.runs):
                raise RuntimeError("a key or the escrow token appeared in a run's output")
        finally:
            emulator.stop()
    return [(what, *values) for what, values in results.items()]


def restore_table(rows):
    lines = [RESTORE_HEADER]
    for what, times, posts, held in rows:
        lines.append(f"{what:<22}{len(times):>7}{statistics.median(times):>10.2f}{max(posts):>7}  "
                     f"{'yes' if held else 'NO'}")
    restore = statistics.median(rows[0][1])
    rotate = statistics.median(rows[1][1])
    lines.append(f"ratio restore/rotate (median): {restore / rotate:.2f}")
    return "\n".join(lines)


def bulk_cost(workdir, tunnels, rounds):
    """{variant: [seconds]} and the tunnels escrowed by the last 'with escrow' run."""
    workdir = Path(workdir)
    with _Escrow(workdir) as bao:
        emulator = Emulator(seed=seed_with_tunnels(tunnels), tls=True, state_dir=str(workdir / "emulator")).start()
        try:
            runner = PlaybookRunner(workdir / "bulk", emulator)
            ids = sorted(t["id"] for t in emulator.tunnels(emulator.account_id) if t["name"].startswith("fleet_"))
            seconds = {"without escrow": [], "with escrow": []}
            escrowed = 0
            for number in range(rounds):
                mount = bao.new_mount()
                order = list(seconds) if number % 2 == 0 else list(reversed(seconds))
                for variant in order:
                    tasks = [{"name": "Rotate the fleet", "cloudflare.magic.ipsec_psk_bulk": {
                        "ipsec_tunnel_ids": ids, "ca_path": emulator.ca_file}, "register": "fleet"}]
                    if variant == "with escrow":
                        tasks.append({"name": "Escrow every key", "ansible.builtin.include_role": {
                            "name": "cloudflare.magic.tunnel_psk", "tasks_from": "escrow_fleet"},
                            "vars": {"tunnel_psk_escrow_keys": "{{ fleet.rotated }}", "tunnel_psk_escrow_mount": mount,
                                     "tunnel_psk_escrow_path": "cloudflare-magic/bench/{{ tunnel_psk_tunnel_id }}"}})
                    keys = ("{{ dict(fleet.rotated.keys() | zip(fleet.rotated.values() | map(attribute='psk')))"
                            " | to_json }}")
                    tasks.append({"name": "Hand the keys on", "ansible.builtin.copy": {
                        "content": keys, "dest": str(workdir / "routers.json"), "mode": "0600"}, "no_log": True})
                    measured = run_measured(runner, [{"name": variant, "hosts": "localhost", "gather_facts": False,
                                                      "tasks": tasks}], name=f"{variant.replace(' ', '-')}.yml")
                    if measured.returncode != 0:
                        raise RuntimeError(f"{variant} failed:\n{measured.stdout[-3000:]}")
                    seconds[variant].append(measured.seconds)
                    if variant == "with escrow":
                        escrowed = sum(1 for tid in ids if bao.read(mount, f"cloudflare-magic/bench/{tid}"))
        finally:
            emulator.stop()
    return seconds, escrowed


def bulk_table(seconds, escrowed, tunnels):
    without = statistics.median(seconds["without escrow"])
    with_escrow = statistics.median(seconds["with escrow"])
    return "\n".join([
        BULK_HEADER,
        f"{'without escrow':<22}{tunnels:>8}{without:>10.2f}{'-':>10}",
        f"{'with escrow':<22}{tunnels:>8}{with_escrow:>10.2f}{f'{escrowed}/{tunnels}':>10}",
        f"escrow per tunnel (median difference / tunnels): {(with_escrow - without) / tunnels * 1000:.1f} ms"])
