"""A whole fleet rotated under a compressed quota: ipsec_psk's pacing against uri's blind calls."""

from __future__ import annotations

import math

from cf_emulator.process import spawn
from measure import run_measured
from support.fleet import fleet_play, fleet_tunnels, rotate_by_host_task, uri_rotate_task, write_fleet_inventory
from support.playbooks import PlaybookRunner


class FleetResult:
    def __init__(self, variant, measured, records, tunnels, quota, window):
        self.variant = variant
        self.seconds = measured.seconds
        self.returncode = measured.returncode
        answered = [r for r in records if r.status is not None]
        self.requests = len(records)
        self.throttled = sum(1 for r in answered if r.status == 429)
        rotated = {r.path.split("/")[-2] for r in answered if r.method == "POST" and r.status == 200}
        self.rotated = sum(1 for t in tunnels if t["id"] in rotated)
        self.tunnels = len(tunnels)
        times = sorted(r.time for r in answered)
        self.span = times[-1] - times[0] if times else 0.0
        # The earliest the last of N requests can be let through: after ceil(N/q) - 1 full windows.
        self.bound = (math.ceil(len(tunnels) / quota) - 1) * window

    def line(self):
        ratio = f"{self.span / self.bound:.3f}" if self.bound else "-"
        return (f"{self.variant:<10}{self.rotated:>5}/{self.tunnels:<5}{self.throttled:>6}{self.requests:>9}"
                f"{self.span:>10.2f}{self.bound:>9.2f}{ratio:>8}{self.seconds:>10.2f}")


HEADER = (f"{'variant':<10}{'rotated':>11}{'429s':>6}{'requests':>9}{'span s':>10}{'bound s':>9}"
          f"{'ratio':>8}{'wall s':>10}")


def run_fleet(workdir, variant, size, forks, quota, window, block):
    with spawn(workdir / "emulator", "--quiet", "--generate-tunnels", str(size), "--ratelimit-quota", str(quota),
               "--ratelimit-window", str(window), "--ratelimit-block", str(block)) as emu:
        runner = PlaybookRunner(workdir / "run", emu)
        tunnels = fleet_tunnels(emu.tunnels())
        inventory = write_fleet_inventory(workdir / "fleet.yml", tunnels)
        task = rotate_by_host_task(emu) if variant == "ipsec_psk" else uri_rotate_task(emu)
        measured = run_measured(runner, fleet_play(task), "-i", str(inventory), "-f", str(forks),
                                name=f"fleet-{variant}.yml")
        return FleetResult(variant, measured, emu.requests, tunnels, quota, window)
