"""The collection's benchmark: `make bench` (or python tests/benchmarks/bench.py --help).

1. N ipsec_psk tasks, the same N ansible.builtin.uri POSTs and N ansible.builtin.ping tasks, interleaved
   and repeated, against the emulator in its own process: medians, ratios, peak memory.
2. API requests per rotated key (by id, by name, with max_age), from the emulator's record.
3. A fleet rotation under a compressed quota, with ipsec_psk and with uri: 429s and time against the
   quota-bound minimum.
4. The bulk path (ipsec_psk_bulk) against the per-tunnel path on a larger fleet, from one controller and
   as four concurrent AWX job slices on one quota.
5. A key-age report (ipsec_tunnel_info, and the example report playbook) on a large account: requests and time.
6. The escrow against a real OpenBao server: a router restored from the escrow against a rotation, and what escrow
   adds per tunnel to a bulk rotation.
7. Packets lost per key rotation through a real IPsec tunnel (the IKE lab; root only): the strongSwan
   playbook's make-before-break switch against close-and-initiate, and a router left on a stale key.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
REPO = TESTS.parent
for path in (TESTS / "emulator", TESTS, Path(__file__).resolve().parent, REPO / "docs" / "examples"):
    sys.path.insert(0, str(path))

import dataplane  # noqa: E402
import escrow  # noqa: E402
import fleet_bulk  # noqa: E402
import fleet_run  # noqa: E402
import per_task  # noqa: E402
import requests_per_key  # noqa: E402
import tunnel_info  # noqa: E402
from cf_emulator.process import spawn  # noqa: E402
from support.playbooks import BIN, PlaybookRunner  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=30, help="N tasks per run in the per-task comparison")
    parser.add_argument("--repeats", type=int, default=5, help="rounds of the per-task comparison")
    parser.add_argument("--fleet", type=int, default=300, help="tunnels (hosts) in the fleet run")
    parser.add_argument("--forks", type=int, default=20)
    parser.add_argument("--quota", type=int, default=60, help="compressed quota per window")
    parser.add_argument("--window", type=float, default=15.0,
                        help="compressed window, seconds (60 per 15 s keeps Cloudflare's 4 requests/s)")
    parser.add_argument("--block", type=float, default=15.0, help="compressed block after going over, seconds")
    parser.add_argument("--skip-fleet", action="store_true")
    parser.add_argument("--only-fleet", action="store_true")
    parser.add_argument("--bulk-fleet", type=int, default=1000, help="tunnels in the bulk vs per-tunnel runs")
    parser.add_argument("--bulk-slices", type=int, nargs="+", default=[1, 4],
                        help="concurrent runs sharing the fleet in the bulk comparison (1: one controller)")
    parser.add_argument("--skip-bulk", action="store_true")
    parser.add_argument("--only-bulk", action="store_true")
    parser.add_argument("--info-tunnels", type=int, default=1000, help="tunnels generated for the key-age report")
    parser.add_argument("--info-repeats", type=int, default=5, help="interleaved rounds of the key-age report")
    parser.add_argument("--skip-info", action="store_true")
    parser.add_argument("--only-info", action="store_true")
    parser.add_argument("--escrow-rounds", type=int, default=3, help="interleaved rounds of restore vs rotate")
    parser.add_argument("--escrow-fleet", type=int, default=300, help="tunnels in the bulk run with and without escrow")
    parser.add_argument("--escrow-bulk-rounds", type=int, default=2, help="interleaved rounds of the bulk runs")
    parser.add_argument("--skip-escrow", action="store_true")
    parser.add_argument("--only-escrow", action="store_true")
    parser.add_argument("--dataplane-playbook", type=Path, default=dataplane.DEFAULT_PLAYBOOK,
                        help="the strongSwan rotation playbook the tunnel runs (default: %(default)s)")
    parser.add_argument("--rotations", type=int, default=5, help="rotations per hand-off under traffic")
    parser.add_argument("--echo-rate", type=float, default=50.0, help="UDP echoes per second through the tunnel")
    parser.add_argument("--skip-dataplane", action="store_true")
    parser.add_argument("--only-dataplane", action="store_true")
    args = parser.parse_args(argv)
    only = [name for name in ("fleet", "bulk", "info", "escrow", "dataplane") if getattr(args, f"only_{name}")]
    if len(only) > 1:
        parser.error("give at most one --only-* option")
    return args


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    ansible = subprocess.run([str(BIN / "ansible"), "--version"], capture_output=True, text=True,
                             check=False).stdout
    return (f"machine: nproc={os.cpu_count()} cpu={cpu}; python {platform.python_version()}; "
            f"{ansible.splitlines()[0] if ansible else 'ansible-core unknown'}")


def collections_path(workdir):
    """ansible_collections/cloudflare/magic pointing at this checkout."""
    link = workdir / "collections" / "ansible_collections" / "cloudflare" / "magic"
    link.parent.mkdir(parents=True)
    link.symlink_to(REPO, target_is_directory=True)
    return str(workdir / "collections")


def main(argv=None):
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cf-magic-bench-") as temp:
        workdir = Path(temp)
        os.environ["ANSIBLE_COLLECTIONS_PATH"] = collections_path(workdir)
        print(machine(), flush=True)

        only = args.only_fleet or args.only_bulk or args.only_info or args.only_escrow or args.only_dataplane
        if not only:
            per_task_and_keys(args, workdir)
        if not args.skip_fleet and (args.only_fleet or not only):
            fleet(args, workdir)
        if not args.skip_bulk and (args.only_bulk or not only):
            bulk(args, workdir)
        if not args.skip_info and (args.only_info or not only):
            info(args, workdir)
        if not args.skip_escrow and (args.only_escrow or not only):
            escrow_section(args, workdir)
        if (args.only_dataplane or not only) and not args.skip_dataplane:
            data_plane(args, workdir)
    return 0


def per_task_and_keys(args, workdir):
    print(f"\n== per task: {args.tasks} tasks a run, {args.repeats} interleaved rounds ==", flush=True)
    # The emulator in its own process, as in production; a quota this high never limits the comparison.
    with spawn(workdir / "emulator", "--quiet", "--generate-tunnels", str(max(args.tasks, 12)),
               "--ratelimit-quota", "1000000") as emu:
        # Keys counted first, while the generated tunnels still hold their seeded ages.
        per_key = requests_per_key.count(PlaybookRunner(workdir / "per-key", emu), emu)
        runs = per_task.compare(PlaybookRunner(workdir / "per-task", emu), emu, args.tasks, args.repeats)
    print(per_task.summary(runs, args.tasks)[0], flush=True)
    print("\n== API requests per rotated key (emulator's record) ==", flush=True)
    print(requests_per_key.table(per_key), flush=True)


def fleet(args, workdir):
    print(f"\n== fleet: {args.fleet} tunnels, {args.forks} forks, quota {args.quota} per {args.window:g} s, "
          f"block {args.block:g} s ==", flush=True)
    print(fleet_run.HEADER)
    for variant in ("ipsec_psk", "uri"):
        result = fleet_run.run_fleet(workdir / f"fleet-{variant}", variant, args.fleet, args.forks,
                                     args.quota, args.window, args.block)
        print(result.line(), flush=True)
    print("span: first to last API request in the emulator's record; bound: (ceil(N/q) - 1) * w, the earliest "
          "the last request can pass; wall: the whole ansible-playbook run")


def bulk(args, workdir):
    print(f"\n== bulk vs per tunnel: {args.bulk_fleet} tunnels, {args.forks} forks, quota {args.quota} per "
          f"{args.window:g} s, block {args.block:g} s ==", flush=True)
    print(fleet_bulk.HEADER)
    for slices in args.bulk_slices:
        per_tunnel = fleet_bulk.run_path(workdir / f"per-tunnel-{slices}", "per-tunnel", args.bulk_fleet,
                                         args.forks, args.quota, args.window, args.block, slices)
        print(per_tunnel.line(), flush=True)
        in_bulk = fleet_bulk.run_path(workdir / f"bulk-{slices}", "bulk", args.bulk_fleet, args.forks,
                                      args.quota, args.window, args.block, slices)
        print(in_bulk.line(per_tunnel), flush=True)
    print("handed on: hosts whose key file holds the edge key; API s: first to last API request in the emulator's "
          "record; wall s: the ansible-playbook run(s); API ratio: per-tunnel API s / bulk API s; xN: N "
          "concurrent runs (AWX job slices), each with its own local_tmp and 1/N of the fleet")


def info(args, workdir):
    print(f"\n== key-age report: {args.info_tunnels} generated tunnels (+ the seed's 5), {args.info_repeats} "
          "interleaved rounds ==", flush=True)
    print(tunnel_info.table(tunnel_info.run(workdir / "info", args.info_tunnels, args.info_repeats)), flush=True)
    print("requests: API requests in the emulator's record per run; minus empty: the median run less an empty "
          "play's (ansible-playbook start-up); reported: tunnels in the result or rows in the CSV")


def escrow_section(args, workdir):
    print(f"\n== escrow (OpenBao): restore from escrow vs rotate, one strongSwan router, {args.escrow_rounds} "
          "interleaved rounds ==", flush=True)
    print(escrow.restore_table(escrow.restore_vs_rotate(workdir / "escrow-restore", args.escrow_rounds)), flush=True)
    print(f"\n== escrow (OpenBao): bulk rotation of {args.escrow_fleet} tunnels with and without escrow, "
          f"{args.escrow_bulk_rounds} interleaved rounds ==", flush=True)
    seconds, escrowed = escrow.bulk_cost(workdir / "escrow-bulk", args.escrow_fleet, args.escrow_bulk_rounds)
    print(escrow.bulk_table(seconds, escrowed, args.escrow_fleet), flush=True)
    print("median s: the ansible-playbook run; POSTs: psk_generate requests (the most of any round); escrowed: "
          "secrets with a version after the last run with escrow")


def data_plane(args, workdir):
    print(f"\n== packets lost per key rotation: {args.echo_rate:g} UDP echoes/s through the tunnel, "
          f"{args.rotations} rotations per hand-off, {args.dataplane_playbook.name} ==", flush=True)
    reason = dataplane.skip_reason()
    if reason:
        print(f"skipped: the IKE lab {reason}", flush=True)
        return
    dataplane.measure(workdir / "dataplane", args.dataplane_playbook.resolve(), args.rotations, args.echo_rate,
                      lambda text: print(text, flush=True))
    print("run s: the ansible-playbook run; sent, lost: echoes sent during it, and those never answered; longest "
          "gap: between two echoes arriving; SPI drops: ESP packets charon dropped for an SA not (yet) installed. "
          "close-and-initiate: the load command also closes the IKE SA, the playbook then brings the tunnel up anew")


if __name__ == "__main__":
    sys.exit(main())
