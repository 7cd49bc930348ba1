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

Where `make venv` made it, the tests name ``.venv-router/bin/python``, a venv on that same ``python3`` that sees
its packages (``--system-site-packages``) and keeps the bytecode of what module processes import from their
AnsiballZ zip (tests/tools/ansiballz_bytecode.py): the same interpreter, standard library and packages, running
the same module code, about 30% cheaper per module process.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

DISTRIBUTION_PYTHON = "/usr/bin/python3"
ROUTER_VENV_PYTHON = Path(__file__).resolve().parents[2] / ".venv-router" / "bin" / "python"


def _runs_modules(python) -> bool:
    try:
        done = subprocess.run([str(python), "-c", "import sys; sys.exit(sys.version_info < (3, 9))"],
                              capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@functools.lru_cache(maxsize=None)
def router_python() -> str:
    for python in (ROUTER_VENV_PYTHON, DISTRIBUTION_PYTHON):
        if _runs_modules(python):
            return str(python)
    return sys.executable
