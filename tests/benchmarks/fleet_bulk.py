"""The bulk path against the per-tunnel path: one controller, and four AWX-style job slices on one quota.

Both paths do the same per-host work after the API phase: each router host writes its own key to a 0600
file under no_log. Every run is checked: each handed-on key must be the tunnel's edge key.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from cf_emulator.process import spawn
from support.fleet import fleet_play, fleet_tunnels, rotate_by_host_task, write_fleet_inventory
from support.playbooks import BIN, PlaybookRunner


def bulk_task(emulator):
    options = {"ipsec_tunnel_ids": "{{ ansible_play_hosts | map('extract', hostvars, 'tunnel_id') | list }}"}
    if emulator.ca_file:
        options["ca_path"] = emulator.ca_file
    return {"name": "Rotate every host's key in bulk", "cloudflare.magic.ipsec_psk_bulk": options,
            "run_once": True, "register": "fleet"}


def hand_off_task(keys_dir, variant):
    key = "rotation.psk" if variant == "per-tunnel" else "fleet.rotated[tunnel_id].psk"
    return {"name": "Hand the key to the router", "ansible.builtin.copy": {
        "content": "{{ %s }}" % key, "dest": f"{keys_dir}/{{{{ tunnel_id }}}}", "mode": "0600"},
        "no_log": True, "when": f"{key} is defined"}


def plays(emulator, variant, keys_dir):
    rotate = rotate_by_host_task(emulator) if variant == "per-tunnel" else bulk_task(emulator)
    return fleet_play(rotate, hand_off_task(keys_dir, variant))


class PathResult:
    def __init__(self, variant, seconds, returncodes, records, tunnels, keys_dir, emulator):
        self.variant = variant
        self.seconds = seconds
        self.returncodes = returncodes
        api = [r for r in records if r.path.startswith("/client/v4/")]
        self.requests = len(api)
        self.posts = sum(1 for r in api if r.method == "POST")
        self.throttled = sum(1 for r in api if r.status == 429)
        times = sorted(r.time for r in api)
        self.api_seconds = times[-1] - times[0] if times else 0.0
        handed = {p.name: p.read_text() for p in Path(keys_dir).iterdir()} if Path(keys_dir).is_dir() else {}
        self.handed_on = sum(1 for t in tunnels if handed.get(t["id"]) is not None
                             and handed[t["id"]] == emulator.edge_psk(t["id"]))
        self.tunnels = len(tunnels)

    def line(self, reference=None):
        ratio = f"{reference.api_seconds / self.api_seconds:.0f}x" if reference and self.api_seconds else "-"
        codes = ",".join(str(c) for c in self.returncodes)
        return (f"{self.variant:<14}{self.handed_on:>6}/{self.tunnels:<6}{self.requests:>9}{self.posts:>7}"
                f"{self.throttled:>6}{self.api_seconds:>10.2f}{self.seconds:>10.2f}{ratio:>11}{codes:>10}")


HEADER = (f"{'path':<14}{'handed on':>13}{'requests':>9}{'POSTs':>7}{'429s':>6}{'API s':>10}{'wall s':>10}"
          f"{'API ratio':>11}{'rc':>10}")


def _start(runner, playbook, inventory, forks):
    command = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), "-f", str(forks)]
    out = open(runner.workdir / "stdout.txt", "w")  # noqa: SIM115 - closed by _wait
    return subprocess.Popen(command, cwd=runner.workdir, env=runner.environment(), stdout=out,
                            stderr=subprocess.STDOUT), out


def run_path(workdir, variant, size, forks, quota, window, block, slices=1):
    """Rotate ``size`` tunnels with ``variant``; with ``slices`` > 1, that many concurrent runs, each with its
    own local_tmp (so its own pacing state, as on separate AWX execution nodes) and a disjoint part of the fleet."""
    with spawn(workdir / "emulator", "--quiet", "--generate-tunnels", str(size), "--ratelimit-quota", str(quota),
               "--ratelimit-window", str(window), "--ratelimit-block", str(block)) as emu:
        tunnels = fleet_tunnels(emu.tunnels())
        keys_dir = workdir / "keys"
        keys_dir.mkdir(parents=True)
        runs = []
        for n in range(slices):
            runner = PlaybookRunner(workdir / f"slice-{n}", emu)
            inventory = write_fleet_inventory(runner.workdir / "inventory.yml", tunnels[n::slices])
            runs.append((runner, runner.write("rotate.yml", plays(emu, variant, keys_dir)), inventory))
        start = time.perf_counter()
        started = [_start(runner, playbook, inventory, forks) for runner, playbook, inventory in runs]
        codes = []
        for process, out in started:
            codes.append(process.wait())
            out.close()
        seconds = time.perf_counter() - start
        label = variant if slices == 1 else f"{variant} x{slices}"
        return PathResult(label, seconds, codes, emu.requests, tunnels, keys_dir, emu)
