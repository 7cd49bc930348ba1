"""Running the tunnel_psk role against a simulated network device (tests/devices) and the emulator.

The play reaches the device through ansible.netcommon.network_cli and the vendor collection's real
terminal, cliconf and module code (the collections come from the pinned ``ansible`` wheel). Until the
role's core is merged, a stand-in core (tests/support/tunnel_psk_standin) is laid out as a role with the
platform's real files; once roles/tunnel_psk/tasks/main.yml exists, the real role runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from support.playbooks import BIN, PlaybookRunner, Run

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "tunnel_psk"
STANDIN = Path(__file__).resolve().parent / "tunnel_psk_standin" / "main.yml"
DEVICE_USER, DEVICE_PASSWORD = "vyos", "device-login-7Hq2"

sys.path.insert(0, str(ROOT / "tests" / "tools"))
sys.path.insert(0, str(ROOT / "tests" / "devices"))

import network_collections  # noqa: E402


def collections_path():
    network = network_collections.ensure(ROOT / ".venv" / "network-collections")
    return os.pathsep.join(p for p in (str(network), os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")) if p)


def role_under_test(workdir: Path, platform: str) -> str:
    """The role name to put in a play: the collection's, or a stand-in core with the platform's real files."""
    if (ROLE / "tasks" / "main.yml").exists():
        return "cloudflare.magic.tunnel_psk"
    role = workdir / "roles" / "tunnel_psk"
    (role / "tasks").mkdir(parents=True, exist_ok=True)
    (role / "defaults" / "main").mkdir(parents=True, exist_ok=True)
    (role / "templates").mkdir(parents=True, exist_ok=True)
    (role / "tasks" / "main.yml").write_text(STANDIN.read_text())
    for part in (Path("tasks") / platform, Path("defaults") / "main" / f"{platform}.yml", Path("templates") / platform):
        if not (role / part).exists():
            (role / part).symlink_to(ROLE / part)
    return "tunnel_psk"


class NetworkRoleRunner(PlaybookRunner):
    """ansible-playbook with an inventory of one simulated router, the role in a play, network collections."""

    def __init__(self, workdir, emulator, server, platform="vyos", network_os="vyos.vyos.vyos"):
        super().__init__(workdir, emulator)
        self.server, self.platform, self.network_os = server, platform, network_os
        self.role = role_under_test(self.workdir, platform)
        self.collections = collections_path()

    def inventory(self, **host_vars):
        host = {
            "ansible_host": "127.0.0.1", "ansible_port": self.server.port,
            "ansible_user": DEVICE_USER, "ansible_password": DEVICE_PASSWORD,
            "ansible_connection": "ansible.netcommon.network_cli", "ansible_network_os": self.network_os,
            "ansible_network_cli_ssh_type": "paramiko",
            "ansible_python_interpreter": sys.executable,
            "tunnel_psk_tunnel_name": "tunnel_nyc_01",
            # the published fqdn form: the emulator's psk_generate answers no ipsec_id unless switched on
            "tunnel_psk_ike_id": self.emulator.ipsec_id(
                next(t["id"] for t in self.emulator.tunnels() if t["name"] == "tunnel_nyc_01")),
            "tunnel_psk_ca_path": self.emulator.ca_file,
        }
        host.update(host_vars)
        path = self.workdir / "inventory.yml"
        path.write_text(yaml.safe_dump({"routers": {"hosts": {"router1": host}}}))
        return path

    def run_role(self, *args, host_vars=None, post_tasks=None, verbosity=0, timeout=300, env=None):
        inventory = self.inventory(**(host_vars or {}))
        play = {"name": "Keep the router on the key in force", "hosts": "routers", "gather_facts": False,
                "roles": [self.role], "post_tasks": post_tasks or []}
        playbook = self.write("role.yml", [play])
        log_path = self.workdir / "ansible.log"
        if log_path.exists():
            log_path.unlink()
        environment = self.environment(
            ANSIBLE_LOG_PATH=str(log_path), ANSIBLE_COLLECTIONS_PATH=self.collections,
            ANSIBLE_ROLES_PATH=str(self.workdir / "roles"), ANSIBLE_HOST_KEY_CHECKING="False",
            ANSIBLE_PERSISTENT_CONNECT_TIMEOUT="15", ANSIBLE_PERSISTENT_COMMAND_TIMEOUT="30", **(env or {}))
        command = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), *args]
        if verbosity:
            command.append("-" + "v" * verbosity)
        done = subprocess.run(command, cwd=self.workdir, env=environment, capture_output=True, text=True,
                              timeout=timeout, check=False)
        log_text = log_path.read_text() if log_path.exists() else ""
        return Run(done.returncode, done.stdout, done.stderr, log_text, self.workdir)


def recap(run: Run, host="router1") -> dict[str, int]:
    """The PLAY RECAP counters of ``host`` (ok, changed, failed, ...)."""
    line = next(line for line in run.stdout.splitlines() if line.startswith(host) and "ok=" in line)
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line)}


def posts(emulator) -> int:
    """How many psk_generate requests the emulator received (validate_only included)."""
    return sum(1 for r in emulator.requests if r.method == "POST" and r.path.endswith("/psk_generate"))
