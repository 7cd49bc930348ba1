"""Running the tunnel_psk role against a simulated network device (tests/devices) and the emulator.

The play reaches the device through ansible.netcommon.network_cli (paramiko) and the vendor collection's real
terminal, cliconf and module code (the collections come from the pinned ``ansible`` wheel); the role is the
collection's own, ``cloudflare.magic.tunnel_psk``, found on the collections path pytest-ansible lays out.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from support.playbooks import BIN, PlaybookRunner, Run
from support.router_python import router_python

ROOT = Path(__file__).resolve().parents[2]
ROLE = "cloudflare.magic.tunnel_psk"
HOST = "router1"

sys.path.insert(0, str(ROOT / "tests" / "tools"))

import network_collections  # noqa: E402


def collections_path() -> str:
    """vyos.vyos, cisco.ios, fortinet.fortios, ansible.netcommon, ansible.utils, junipernetworks.junos, then this
    collection's path."""
    network = network_collections.ensure(ROOT / ".venv" / "network-collections")
    junos = network_collections.ensure_junos(ROOT / ".venv" / "junos-collections")
    return os.pathsep.join(p for p in (str(network), str(junos), os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")) if p)


def older_collections_path() -> str:
    """cisco.ios and vyos.vyos of the `ansible` 11 package (older than the role needs), cached beside the others."""
    return str(network_collections.ensure_older(ROOT / ".venv" / "older-network-collections"))


class NetworkRoleRunner(PlaybookRunner):
    """ansible-playbook with an inventory of one simulated router (``router1`` in ``group``), the role in a play.

    ``host_vars`` are the platform's inventory variables on top of the connection's (login, network OS) and
    the tunnel's (``tunnel_psk_tunnel_name``, the emulator's CA); ``run_role(host_vars=...)`` adds per run.
    """

    def __init__(self, workdir, emulator, server, network_os, username, password, tunnel="tunnel_nyc_01",
                 host_vars=None, group="routers"):
        super().__init__(workdir, emulator)
        self.server, self.group = server, group
        self.host_vars = {
            "ansible_host": "127.0.0.1", "ansible_port": server.port,
            "ansible_user": username, "ansible_password": password,
            "ansible_connection": "ansible.netcommon.network_cli", "ansible_network_os": network_os,
            "ansible_network_cli_ssh_type": "paramiko",
            "ansible_python_interpreter": router_python(),
            "tunnel_psk_tunnel_name": tunnel,
            "tunnel_psk_ca_path": emulator.ca_file,
            **(host_vars or {}),
        }
        self.collections = collections_path()

    def inventory(self, **host_vars) -> Path:
        path = self.workdir / "inventory.yml"
        path.write_text(yaml.safe_dump({self.group: {"hosts": {HOST: {**self.host_vars, **host_vars}}}}))
        return path

    def environment(self, **extra):
        # paramiko reads and records ~/.ssh/known_hosts even without host key checking: a simulator's fresh host
        # key on a port another test's simulator used before would be a "host key mismatch". A HOME of the
        # test's own keeps the runs apart from each other and from the machine's known hosts.
        home = self.workdir / "home"
        home.mkdir(exist_ok=True)
        return super().environment(**{
            "HOME": str(home), "ANSIBLE_PARAMIKO_RECORD_HOST_KEYS": "False",
            "ANSIBLE_COLLECTIONS_PATH": self.collections, "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_PERSISTENT_CONNECT_TIMEOUT": "15", "ANSIBLE_PERSISTENT_COMMAND_TIMEOUT": "30",
            # network_cli waits this long after every prompt it matches (0.1 s by default), in case the device sends
            # more; the simulators (devices/sshcli.py) send each answer with its echo and the next prompt in one
            # write, so the default only added 0.1 s per command line (about 3 s to a VyOS commit).
            "ANSIBLE_PERSISTENT_BUFFER_READ_TIMEOUT": "0.02", **extra})

    def run_role(self, *args, host_vars=None, post_tasks=None, verbosity=0, timeout=300, env=None) -> Run:
        play = {"name": "Keep the router on the key in force", "hosts": self.group, "gather_facts": False,
                "roles": [ROLE], "post_tasks": post_tasks or []}
        return self.run_playbook(self.write("role.yml", [play]), *args, host_vars=host_vars, verbosity=verbosity,
                                 timeout=timeout, env=env)

    def run_playbook(self, playbook, *args, host_vars=None, verbosity=0, timeout=300, env=None) -> Run:
        """ansible-playbook ``playbook`` against the router's inventory; stdout, stderr and log_path's text."""
        inventory = self.inventory(**(host_vars or {}))
        log_path = self.workdir / "ansible.log"
        if log_path.exists():
            log_path.unlink()
        command = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), *args]
        if verbosity:
            command.append("-" + "v" * verbosity)
        done = subprocess.run(command, cwd=self.workdir, env=self.environment(ANSIBLE_LOG_PATH=str(log_path),
                                                                              **(env or {})),
                              capture_output=True, text=True, timeout=timeout, check=False)
        log_text = log_path.read_text() if log_path.exists() else ""
        return Run(done.returncode, done.stdout, done.stderr, log_text, self.workdir)


class KilledRun:
    """ansible-playbook running the role in a process group of its own, to be killed with SIGKILL from the middle
    of a step (as an AWX cancel, a job timeout or an OOM kill does): ``kill()`` from a device's handler, then
    ``wait()`` for what it printed. Nothing of the role's (no rescue, no always) runs after the kill."""

    def __init__(self, runner, *args, host_vars=None):
        play = {"name": "Keep the router on the key in force", "hosts": runner.group, "gather_facts": False,
                "roles": [ROLE]}
        command = [str(BIN / "ansible-playbook"), "-i", str(runner.inventory(**(host_vars or {}))),
                   str(runner.write("role.yml", [play])), *args]
        self.killed, self.workdir = False, runner.workdir
        # Files, not pipes: the persistent connection (ansible-connection) leaves the process group and outlives
        # the kill; holding a pipe, it would keep a reader waiting until its idle timeout.
        self.out, self.err = (open(runner.workdir / f"killed.{n}", "w+", encoding="utf-8") for n in ("out", "err"))
        self.process = subprocess.Popen(command, cwd=runner.workdir, env=runner.environment(),
                                        stdout=self.out, stderr=self.err, text=True, start_new_session=True)

    def kill(self):
        if not self.killed:
            self.killed = True
            os.killpg(self.process.pid, signal.SIGKILL)

    def wait(self, timeout=300):
        self.process.wait(timeout=timeout)
        texts = []
        for stream in (self.out, self.err):
            stream.seek(0)
            texts.append(stream.read())
            stream.close()
        return Run(self.process.returncode, *texts, "", self.workdir)


def recap(run: Run, host=HOST) -> dict[str, int]:
    """The PLAY RECAP counters of ``host`` (ok, changed, failed, ...)."""
    line = next(line for line in run.stdout.splitlines() if line.startswith(host) and "ok=" in line)
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line)}


def posts(emulator) -> int:
    """How many psk_generate requests the emulator received (validate_only included)."""
    return sum(1 for r in emulator.requests if r.method == "POST" and r.path.endswith("/psk_generate"))
