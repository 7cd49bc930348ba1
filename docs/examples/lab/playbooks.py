"""Running real ``ansible-playbook`` processes against the emulator, and reading what they left behind.

Used by the IKE lab of ``make demo`` and by the tests (tests/support/playbooks.py adds test-only helpers).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

BIN = Path(sys.executable).parent


def seed_account(emulator):
    return emulator.seed["accounts"][0]


def seed_token(emulator, permission="write"):
    """The token of the default seed with the given kind of permission ("write" or "read")."""
    wanted = {"write": ("Magic WAN Write", "Magic Transit Write"), "read": ("Magic WAN Read",)}[permission]
    for token in emulator.seed["tokens"]:
        if any(p in wanted for p in token["permissions"]) and not (
                permission == "read" and any("Write" in p for p in token["permissions"])):
            return token["value"]
    raise LookupError(permission)


class Run:
    def __init__(self, returncode, stdout, stderr, log_text, workdir):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.log_text = log_text
        self.workdir = workdir

    @property
    def everything(self):
        """All the text a user could see from this run: stdout, stderr and the log file."""
        return "\n".join((self.stdout, self.stderr, self.log_text))

    def hits(self, *secrets):
        """How many times any of ``secrets`` occurs in anything the run printed or logged."""
        return sum(self.everything.count(s) for s in secrets if s)


class PlaybookRunner:
    """Writes playbooks into a work folder and runs them with ansible-playbook against an emulator."""

    def __init__(self, workdir, emulator):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.emulator = emulator
        self.account_id = seed_account(emulator)["id"]
        self.token = seed_token(emulator, "write")

    def environment(self, **extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "ANSIBLE_"))}
        env.update({
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "ANSIBLE_COLLECTIONS_PATH": os.environ.get("ANSIBLE_COLLECTIONS_PATH", ""),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "ANSIBLE_LOCAL_TEMP": str(self.workdir / "ansible-tmp"),
            "ANSIBLE_HOME": str(self.workdir / "ansible-home"),
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "CLOUDFLARE_ACCOUNT_ID": self.account_id,
            "CLOUDFLARE_API_TOKEN": self.token,
            "CLOUDFLARE_BASE_URL": self.emulator.base_url,
        })
        for key, value in extra.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def write(self, name, plays):
        path = self.workdir / name
        path.write_text(plays if isinstance(plays, str) else yaml.safe_dump(plays, sort_keys=False))
        return path

    def run(self, playbook, *args, env=None, extra_vars=None, verbosity=0, timeout=300):
        """Run ``playbook`` (a path, or plays to write); return a ``Run`` with stdout, stderr and log_path's text."""
        if not isinstance(playbook, (str, Path)) or not Path(playbook).exists():
            playbook = self.write("playbook.yml", playbook)
        log_path = self.workdir / "ansible.log"
        if log_path.exists():
            log_path.unlink()
        environment = self.environment(ANSIBLE_LOG_PATH=str(log_path), **(env or {}))
        command = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)]
        if verbosity:
            command.append("-" + "v" * verbosity)
        if extra_vars:
            command += ["-e", yaml.safe_dump(extra_vars, default_flow_style=True).strip()]
        command += list(args)
        done = subprocess.run(command, cwd=self.workdir, env=environment, capture_output=True, text=True,
                              timeout=timeout, check=False)
        log_text = log_path.read_text() if log_path.exists() else ""
        return Run(done.returncode, done.stdout, done.stderr, log_text, self.workdir)
