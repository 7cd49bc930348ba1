"""The interpreter the test inventories give their routers (``ansible_python_interpreter``).

A strongSwan router here is a host on the local connection, and a network device's modules run on the
controller; either way a module task runs ansible-core's or the vendor's module in a process of its own, under
the interpreter the inventory names, not the controller's. The tests name the distribution's ``python3`` when
the machine has one that every admitted ansible-core line runs modules on (3.9 or newer), as a Debian router
would have it, and this venv's interpreter otherwise.

The same goes for the one host (``-i localhost,``) of the tests' playbook runner (``support.playbooks``), the
router of their plays, and the router of the AWX job template test.

It is also the cheaper one: for a module process, pyenv's build of 3.12 took 1.38 times the CPU of Debian's 3.11
(tests/benchmarks/interpreters.py), and Debian 13's 3.13, which the primary venv now runs on where it can be had
(tests/tools/optimised-venv), 1.16 times; module processes are a large share of the suite's CPU (docs/testing.md).
"""

from __future__ import annotations

import functools
import subprocess
import sys

DISTRIBUTION_PYTHON = "/usr/bin/python3"


@functools.lru_cache(maxsize=None)
def router_python() -> str:
    try:
        done = subprocess.run([DISTRIBUTION_PYTHON, "-c", "import sys; sys.exit(sys.version_info < (3, 9))"],
                              capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return sys.executable
    return DISTRIBUTION_PYTHON if done.returncode == 0 else sys.executable
