"""Reporting key ages on a large account: the ipsec_tunnel_info task alone, and the whole example report
(docs/examples/psk_age_report.yml: the task, a Markdown report and a CSV), against an empty play."""

from __future__ import annotations

import statistics
from pathlib import Path

from cf_emulator.process import spawn
from measure import run_measured
from support.playbooks import PlaybookRunner

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "psk_age_report.yml"
HEADER = f"{'variant':<22}{'requests':>9}{'median run s':>14}{'minus empty s':>15}{'peak RSS MiB':>14}  reported"


def _plays(variant, emulator, workdir):
    if variant == "empty":
        return [{"name": "empty", "hosts": "localhost", "gather_facts": False, "tasks": []}], ()
    if variant == "ipsec_tunnel_info":
        task = {"cloudflare.magic.ipsec_tunnel_info": {"max_age": "90d", "ca_path": emulator.ca_file},
                "register": "keys"}
        shown = {"ansible.builtin.debug": {"msg": "reported {{ keys.summary.total }}"}}
        return [{"name": "info", "hosts": "localhost", "gather_facts": False, "tasks": [task, shown]}], ()
    return [{"ansible.builtin.import_playbook": str(EXAMPLE)}], (
        "-e", f"cloudflare_ca_path={emulator.ca_file}", "-e", f"report_dir={workdir / 'report'}",
        "-e", "router_group=none")


def run(workdir, tunnels, repeats):
    """[(variant, requests, median seconds, peak RSS MiB, tunnels reported)] over ``repeats`` interleaved rounds."""
    variants = ("empty", "ipsec_tunnel_info", "psk_age_report.yml")
    seconds = {v: [] for v in variants}
    rss = {v: 0.0 for v in variants}
    requests = {v: 0 for v in variants}
    reported = {v: "-" for v in variants}
    with spawn(workdir / "emulator", "--quiet", "--generate-tunnels", str(tunnels),
               "--ratelimit-quota", "1000000") as emulator:
        runner = PlaybookRunner(workdir / "info", emulator)
        for round_number in range(repeats):
            for variant in variants[round_number % 3:] + variants[:round_number % 3]:
                plays, args = _plays(variant, emulator, workdir)
                emulator.clear_requests()
                measured = run_measured(runner, plays, *args, name=f"{variant}.yml")
                if measured.returncode != 0:
                    raise RuntimeError(f"{variant} failed:\n{measured.stdout[-3000:]}")
                seconds[variant].append(measured.seconds)
                rss[variant] = max(rss[variant], measured.max_rss_mib)
                requests[variant] = len([r for r in emulator.requests if r.path.startswith("/client/v4/")])
                if variant == "ipsec_tunnel_info":
                    reported[variant] = measured.stdout.split("reported ", 1)[1].split('"', 1)[0]
                elif variant != "empty":
                    rows = (workdir / "report" / "psk-age-report.csv").read_text().splitlines()
                    reported[variant] = str(len(rows) - 1)
    return [(v, requests[v], statistics.median(seconds[v]), rss[v], reported[v]) for v in variants]


def table(rows):
    empty = next(s for v, _r, s, _m, _t in rows if v == "empty")
    return "\n".join([HEADER] + [
        f"{variant:<22}{n:>9}{s:>14.2f}{(s - empty if variant != 'empty' else 0):>15.2f}{rss:>14.1f}  {reported}"
        for variant, n, s, rss, reported in rows])
