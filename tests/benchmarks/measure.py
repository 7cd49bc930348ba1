"""One ansible-playbook run, timed, with the peak memory of its process tree."""

from __future__ import annotations

import os
import subprocess
import time

from support.playbooks import BIN


class Measured:
    def __init__(self, returncode, seconds, max_rss_mib, stdout):
        self.returncode = returncode
        self.seconds = seconds
        self.max_rss_mib = max_rss_mib
        self.stdout = stdout


def run_measured(runner, plays, *args, name="playbook.yml"):
    """Run ``plays`` with ``runner``'s environment; wall time, and ru_maxrss of the whole tree from wait4.

    wait4's ru_maxrss for ansible-playbook covers it and every fork it waited for (the largest of them).
    """
    playbook = runner.write(name, plays)
    command = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook), *args]
    out_path = runner.workdir / "stdout.txt"
    with open(out_path, "w") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=runner.workdir, env=runner.environment(), stdout=out,
                                   stderr=subprocess.STDOUT)
        _unused, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measured(process.returncode, seconds, usage.ru_maxrss / 1024.0, out_path.read_text())
