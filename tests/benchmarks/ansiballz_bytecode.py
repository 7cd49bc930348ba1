"""What the tests' bytecode cache for module processes saves: `python tests/benchmarks/ansiballz_bytecode.py`.

tests/tools/ansiballz_bytecode.py keeps, in each venv `make venv` made, the bytecode of what module processes
import from their AnsiballZ zip. This runs, side by side and interleaved, with the cache (the default) and
without it (CFM_ANSIBALLZ_BYTECODE=off in the environment):

1. one module process alone: an AnsiballZ_stat.py payload of the primary venv's ansible-core, kept from a run,
   executed by the routers' interpreter (.venv-router) and by the primary venv's;
2. the playbook of tests/benchmarks/interpreters.py (set_fact and skipped tasks, four module tasks) on the
   primary venv, its modules on the routers' interpreter: CPU of the whole process tree.

It prints the median core-seconds of each and the ratio with the cache to without.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from interpreters import PLAYBOOK, PRIMARY, REPO, tree_cpu

ROUTER = REPO / ".venv-router" / "bin" / "python"
MODES = {"with the cache": None, "without": "off"}


def environment(base, mode):
    env = {k: v for k, v in base.items() if k != "CFM_ANSIBALLZ_BYTECODE"}
    if MODES[mode]:
        env["CFM_ANSIBALLZ_BYTECODE"] = MODES[mode]
    return env


def report(title, samples):
    print(title)
    for what, by_mode in samples.items():
        cached, plain = (statistics.median(by_mode[mode]) for mode in MODES)
        print(f"  {what:48s} {cached:6.3f} with the cache, {plain:6.3f} without ({cached / plain:.2f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="playbook runs per mode; module processes: 4x (default 5)")
    args = parser.parse_args()
    if not os.access(ROUTER, os.X_OK):
        sys.exit(f"no {ROUTER.relative_to(REPO)}: make venv makes it where /usr/bin/python3 is 3.9 or newer")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "play.yml").write_text(PLAYBOOK)
        base = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="false", HOME=str(work))
        base.pop("ANSIBLE_COLLECTIONS_PATH", None)
        playbook = [str(PRIMARY / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                    "-e", f"ansible_python_interpreter={ROUTER}", str(work / "play.yml")]
        tree_cpu(playbook, dict(base, ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_REMOTE_TMP=str(work / "kept")), work)
        payload = sorted((work / "kept").glob("*/AnsiballZ_stat.py"))[-1]
        for python in (ROUTER, PRIMARY / "python"):  # one run each first: the cache holds what the runs need
            tree_cpu([str(python), str(payload)], base, work)
        pythons = {str(python.relative_to(REPO)): python for python in (ROUTER, PRIMARY / "python")}
        module = {label: {mode: [] for mode in MODES} for label in pythons}
        whole = {"the playbook": {mode: [] for mode in MODES}}
        for _round in range(args.runs):
            for mode in MODES:
                whole["the playbook"][mode].append(tree_cpu(playbook, environment(base, mode), work))
        for _round in range(args.runs * 4):
            for label, python in pythons.items():
                for mode in MODES:
                    module[label][mode].append(tree_cpu([str(python), str(payload)], environment(base, mode), work))
    report(f"one module process (ansible.builtin.stat of the primary venv's ansible-core), {args.runs * 4} runs "
           "per mode, interleaved; median core-seconds (ratio)", module)
    report(f"the playbook of interpreters.py, modules on .venv-router, {args.runs} runs per mode, interleaved; "
           "median core-seconds (ratio)", whole)


if __name__ == "__main__":
    sys.exit(main())
