"""Where a secret could show: ansible-playbook's output at each verbosity, log_path, ansible-runner's
job events and stdout, and the target's syslog "Invoked with" lines."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from support.playbooks import BIN

SYSLOG_HOOK = str(Path(__file__).resolve().parent / "syslog_capture")
VERBOSITIES = (0, 1, 2, 3, 4)


def syslog_env(capture_file, env=None):
    """``env`` plus what makes every Python process of the run copy its syslog lines to ``capture_file``."""
    env = dict(env or {})
    env["CF_SYSLOG_CAPTURE"] = str(capture_file)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SYSLOG_HOOK, os.environ.get("PYTHONPATH")) if p)
    return env


def runner_run(playbooks, plays, workdir, env, args=(), verbosity=4):
    """Run ``plays`` with the ansible-runner CLI (as AWX does); return the folder of its artifacts (job events and
    stdout)."""
    data = Path(workdir) / "runner"
    (data / "project").mkdir(parents=True, exist_ok=True)
    (data / "inventory").mkdir(exist_ok=True)
    (data / "env").mkdir(exist_ok=True)
    (data / "project" / "playbook.yml").write_text(yaml.safe_dump(plays, sort_keys=False))
    (data / "inventory" / "hosts").write_text("localhost ansible_connection=local\n")
    cmdline = " ".join(["-" + "v" * verbosity] if verbosity else []) + " " + " ".join(args)
    (data / "env" / "cmdline").write_text(cmdline.strip())
    environment = playbooks.environment(**(env or {}))
    subprocess.run([str(BIN / "ansible-runner"), "run", str(data), "-p", "playbook.yml"], env=environment,
                   capture_output=True, text=True, timeout=300, check=False)
    return data / "artifacts"
