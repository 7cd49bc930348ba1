"""N ipsec_psk tasks against the same N uri POSTs and N pings, interleaved and repeated."""

from __future__ import annotations

import statistics

from measure import run_measured
from support.fleet import fleet_tunnels, rotate_by_host_task, uri_rotate_task

VARIANTS = ("ipsec_psk", "uri", "ping", "empty")


def _plays(variant, emulator, tunnel_ids):
    if variant == "empty":
        tasks = []  # ansible-playbook's own start and finish, subtracted from the others
    elif variant == "ipsec_psk":
        tasks = [dict(rotate_by_host_task(emulator, "{{ item }}"), loop=tunnel_ids)]
    elif variant == "uri":
        tasks = [dict(uri_rotate_task(emulator, "{{ item }}"), loop=tunnel_ids)]
    else:
        tasks = [{"name": "Ping", "ansible.builtin.ping": {}, "loop": list(range(len(tunnel_ids)))}]
    for task in tasks:
        task["loop_control"] = {"label": "{{ ansible_loop.index }}", "extended": True}
    return [{"name": variant, "hosts": "localhost", "gather_facts": False, "tasks": tasks}]


def compare(runner, emulator, n, repeats):
    """Return {variant: [Measured, ...]}; each round runs every variant once, in a rotating order."""
    tunnel_ids = [t["id"] for t in fleet_tunnels(emulator.tunnels())[:n]]
    if len(tunnel_ids) < n:
        raise RuntimeError(f"the emulator has {len(tunnel_ids)} fleet tunnels, {n} are needed")
    runs = {v: [] for v in VARIANTS}
    for round_no in range(repeats):
        order = VARIANTS[round_no % len(VARIANTS):] + VARIANTS[:round_no % len(VARIANTS)]
        for variant in order:
            measured = run_measured(runner, _plays(variant, emulator, tunnel_ids), name=f"{variant}.yml")
            if measured.returncode != 0:
                raise RuntimeError(f"{variant} failed:\n{measured.stdout[-3000:]}")
            runs[variant].append(measured)
    return runs


def summary(runs, n):
    """Medians, per-task times (minus the empty play) and the ratios the issue sets targets for."""
    median = {v: statistics.median(m.seconds for m in runs[v]) for v in VARIANTS}
    per_task = {v: (median[v] - median["empty"]) / n for v in VARIANTS if v != "empty"}
    memory = {v: max(m.max_rss_mib for m in runs[v]) for v in VARIANTS}
    lines = [f"{'variant':<11}{'median run s':>14}{'per task ms':>13}{'peak RSS MiB':>14}"]
    for v in VARIANTS:
        task_ms = f"{per_task[v] * 1000:.1f}" if v in per_task else "-"
        lines.append(f"{v:<11}{median[v]:>14.2f}{task_ms:>13}{memory[v]:>14.1f}")
    ratios = {"ipsec_psk/uri": per_task["ipsec_psk"] / per_task["uri"],
              "ipsec_psk/ping": per_task["ipsec_psk"] / per_task["ping"]}
    whole = {"ipsec_psk/uri": median["ipsec_psk"] / median["uri"],
             "ipsec_psk/ping": median["ipsec_psk"] / median["ping"]}
    targets = {"ipsec_psk/uri": 1.0, "ipsec_psk/ping": 1.2}
    for name, value in ratios.items():
        verdict = "meets" if value <= targets[name] else "MISSES"
        lines.append(f"ratio {name:<15} per task {value:.2f}   whole run {whole[name]:.2f}   "
                     f"(target <= {targets[name]}: {verdict})")
    return "\n".join(lines), ratios
