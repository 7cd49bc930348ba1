"""Which build of a Python version runs ansible-core cheaper: `python tests/benchmarks/interpreters.py`.

The suite is bound by CPU, and most of that CPU is ansible-core's own: ansible-playbook, a forked worker per
task and host, a module process per module task (docs/testing.md). This puts one ansible-core line (the
pins of tests/constraints-<line>.txt) in a venv on each interpreter given, then, interleaved and repeated:

1. a playbook of skipped and set_fact tasks and four module tasks (command, stat, copy, slurp) on the local
   connection, controller and modules on that interpreter: CPU of the whole process tree (wait4);
2. one module process alone: the primary venv's AnsiballZ_stat.py payload (ansible-core of tests/constraints.txt,
   kept from a run) executed by each interpreter and by the primary venv's own: a module's interpreter is the
   inventory's ansible_python_interpreter, not the controller's (tests/support/router_python.py).

It prints the median core-seconds of each and each interpreter's ratio to the first. By default it compares
the distribution's python3.11 (what tests/tools/find-python and the test inventories pick) with pyenv's newest
3.11 build.
"""

from __future__ import annotations

import argparse
import glob
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PRIMARY = REPO / ".venv" / "bin"
UV = PRIMARY / "uv"

PLAYBOOK = """\
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.set_fact:
        value: "{{ item | string | upper }}"
      loop: "{{ range(20) | list }}"
    - ansible.builtin.debug:
        msg: skipped
      when: value is not defined
      loop: [1, 2, 3]
    - ansible.builtin.command: "true"
    - ansible.builtin.stat:
        path: "{{ playbook_dir }}"
    - ansible.builtin.copy:
        content: text
        dest: "{{ playbook_dir }}/copied"
    - ansible.builtin.slurp:
        src: "{{ playbook_dir }}/copied"
"""


def default_interpreters():
    pyenv = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.11.*/bin/python3.11")))
    return [path for path in ["/usr/bin/python3.11", *pyenv[-1:]] if os.access(path, os.X_OK)]


def make_venv(interpreter, line, where):
    subprocess.run([interpreter, "-m", "venv", "--without-pip", str(where)], check=True)
    subprocess.run([str(UV), "pip", "install", "--quiet", "--compile-bytecode", "--python", str(where / "bin" / "python"),
                    "ansible-core", "-c", str(REPO / "tests" / f"constraints-{line}.txt")], check=True)
    return where / "bin" / "python"


def tree_cpu(command, env, cwd):
    """Core-seconds of ``command`` and every process it waited for."""
    with open(os.devnull, "w") as devnull:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=devnull, stderr=subprocess.STDOUT)
        _unused, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(map(str, command))}")
    return usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--line", default="2.16", help="ansible-core line whose pins to install (default 2.16)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each measure per interpreter (default 5)")
    parser.add_argument("interpreters", nargs="*", help="interpreters to compare (default: see above)")
    args = parser.parse_args()
    interpreters = args.interpreters or default_interpreters()
    if len(interpreters) < 2:
        parser.error("give two interpreters or more (found: %s)" % (", ".join(interpreters) or "none"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "play.yml").write_text(PLAYBOOK)
        venvs = [make_venv(path, args.line, work / f"venv{n}") for n, path in enumerate(interpreters)]
        env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="false", HOME=str(work))
        env.pop("ANSIBLE_COLLECTIONS_PATH", None)
        playbook, module = {}, {}
        for _round in range(args.runs):
            for python in venvs:
                command = [str(python.parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", f"ansible_python_interpreter={python}", str(work / "play.yml")]
                playbook.setdefault(python, []).append(tree_cpu(command, env, work))
        primary_run = dict(env, ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_REMOTE_TMP=str(work / "primary"))
        tree_cpu([str(PRIMARY / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                  "-e", f"ansible_python_interpreter={PRIMARY / 'python'}", str(work / "play.yml")], primary_run, work)
        payload = sorted((work / "primary").glob("*/AnsiballZ_stat.py"))[-1]
        runners = [*interpreters, str(PRIMARY / "python")]
        for _round in range(args.runs * 4):
            for python in runners:
                module.setdefault(python, []).append(tree_cpu([python, str(payload)], env, work))
    print(f"ansible-core {args.line} pins, controller and modules on each interpreter: {args.runs} playbook runs "
          "each, interleaved; median core-seconds (ratio to the first)")
    for python, interpreter in zip(venvs, interpreters):
        whole = statistics.median(playbook[python])
        print(f"  {interpreter:56s} {whole:6.2f} ({whole / statistics.median(playbook[venvs[0]]):.2f})")
    print(f"one module process (ansible.builtin.stat of the primary venv's ansible-core): {args.runs * 4} runs each, "
          "interleaved; median core-seconds (ratio to the first)")
    for python in runners:
        alone = statistics.median(module[python])
        print(f"  {python:56s} {alone:6.3f} ({alone / statistics.median(module[runners[0]]):.2f})")


if __name__ == "__main__":
    sys.exit(main())
