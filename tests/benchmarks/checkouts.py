"""The same tests on two checkouts, side by side: a git ref (a worktree of it) against this working tree.

    .venv/bin/python tests/benchmarks/checkouts.py --base HEAD~3 --rounds 3 \
        tests/integration/test_role_vyos.py::test_hand_off_commits_the_key_in_force_with_its_stamp_and_the_guide_parameters_then_nothing_to_do

Each round runs the tests once on each side, the order alternating, one pytest process at a time (no xdist), with
``CPU_BY_TEST=1``: a test's CPU is the pytest process's own and that of every process it reaped (ansible-playbook,
its workers, modules, ansible-connection), so what else runs on the machine adds little. Both sides use this
checkout's virtual environments (``.venv``, ``.venv-router``), so only the repository's files differ. Prints the
core-seconds of every round, the medians and the ratio this tree / base.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = (".venv", ".venv-router")


def run_side(checkout: Path, tests: list[str], junit: Path) -> tuple[float, int, int]:
    """(core-seconds, tests, failed) of one pytest run of ``tests`` in ``checkout``."""
    env = {**os.environ, "CPU_BY_TEST": "1"}
    subprocess.run([sys.executable, "-m", "pytest", *tests, "-p", "no:cacheprovider", "-q", f"--junitxml={junit}"],
                   cwd=checkout, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    cpu, count, failed = 0.0, 0, 0
    for case in ET.parse(junit).iter("testcase"):
        count += 1
        failed += sum(1 for child in case if child.tag in ("failure", "error"))
        cpu += sum(float(p.get("value")) for p in case.iter("property") if p.get("name") == "cpu_seconds")
    return cpu, count, failed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--base", required=True, help="the git ref to compare with (a commit, a branch, HEAD~1)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("tests", nargs="+", help="pytest node ids or files, relative to the repository's root")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="checkouts-") as scratch:
        base = Path(scratch) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(base), args.base], cwd=ROOT, check=True)
        try:
            for name in SHARED:
                if (ROOT / name).exists():
                    (base / name).symlink_to(ROOT / name)
            sides = {"base": base, "tree": ROOT}
            cpu = {side: [] for side in sides}
            for round_no in range(1, args.rounds + 1):
                order = ("base", "tree") if round_no % 2 else ("tree", "base")
                for side in order:
                    seconds, count, failed = run_side(sides[side], args.tests, Path(scratch) / f"{side}-{round_no}.xml")
                    cpu[side].append(seconds)
                    print(f"round {round_no} {side:<4}: {count} tests, {failed} failed, {seconds:.1f} core-s", flush=True)
                    if failed:
                        print(f"{side}: a test failed; its CPU is not comparable", file=sys.stderr)
                        return 1
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)
    medians = {side: statistics.median(values) for side, values in cpu.items()}
    print(f"median core-s: base ({args.base}) {medians['base']:.1f}, this tree {medians['tree']:.1f}; "
          f"ratio tree/base {medians['tree'] / medians['base']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
