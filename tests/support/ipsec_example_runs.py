"""Runs of docs/examples/rotate_and_configure_strongswan.yml against the emulator, as a scheduled job would.

The "router" is a folder (its swanctl conf.d) reached through an inventory host; the load command stands for
charon's ``swanctl --load-all``. Each run is counted from the emulator's request record, and what the router
ended up with (key, identity, stamp) is read back from its folder. No key is ever printed: the key in the
config is only compared with the edge's.
"""

from __future__ import annotations

import base64
import copy
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from cf_emulator import default_seed

from .playbooks import BIN, PlaybookRunner, Run
from .router_python import router_python

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "rotate_and_configure_strongswan.yml"
TUNNEL_NAME = "tunnel_nyc_01"
LOADED = "loaded.conf"  # where the stand-in load command copies the config, as charon would load it
SWANCTL_STAND_IN = Path(__file__).resolve().parents[1] / "devices" / "swanctl_bin"  # answers --list-conns from LOADED


def seed_with_custom_identity():
    """The default seed, with tunnel_nyc_01 given a custom remote identity of the documented form."""
    seed = default_seed()
    account = seed["accounts"][0]
    for tunnel in account["tunnels"]:
        if tunnel["name"] == TUNNEL_NAME:
            tunnel["custom_remote_identities"] = {"fqdn_id": f"nyc01.{account['id']}.custom.ipsec.cloudflare.com"}
    return seed


def seed_without_identity():
    """The default seed with no custom remote identity on any tunnel (whatever the default seed holds)."""
    seed = copy.deepcopy(default_seed())
    for tunnel in seed["accounts"][0]["tunnels"]:
        tunnel.pop("custom_remote_identities", None)
    return seed


@dataclass
class ExampleRun:
    what: str
    returncode: int
    posts: int  # psk_generate requests the emulator recorded during this run (validate_only excluded)
    run: Run

    @property
    def recap_changed(self):
        """The ``changed=`` count of the play recap for the router host, or None when there is no recap."""
        match = re.search(r"^router\s+: ok=\d+\s+changed=(\d+)", self.run.stdout, re.MULTILINE)
        return int(match.group(1)) if match else None


class StrongswanRouter:
    """One router folder, the example playbook and the emulator; ``run`` runs the example once."""

    def __init__(self, workdir, emulator, tunnel_name=TUNNEL_NAME):
        self.workdir = Path(workdir)
        self.emulator = emulator
        self.runner = PlaybookRunner(self.workdir / "controller", emulator)
        self.conf_dir = self.workdir / "router" / "conf.d"
        self.conf_dir.mkdir(parents=True)
        self.tunnel = next(t for t in emulator.tunnels(emulator.account_id) if t["name"] == tunnel_name)
        self.runs = []

    # --- what the router holds -----------------------------------------------------------------
    @property
    def config(self):
        return self.conf_dir / f"cloudflare-{self.tunnel['name']}.conf"

    @property
    def legacy_stamp_file(self):
        """Where versions before the role kept the stamp, apart from the key."""
        return self.conf_dir / f"cloudflare-{self.tunnel['name']}.stamp"

    def stamp(self):
        """The stamp recorded in the router's configuration, next to its key (None when there is none)."""
        return config_stamp(self.config)

    def loaded_key(self):
        """The key in what the router loaded (None when it loaded nothing)."""
        loaded = self.conf_dir.parent / LOADED
        if not loaded.exists():
            return None
        match = re.search(r"^\s*secret = 0s(\S+)\s*$", loaded.read_text(), re.MULTILINE)
        return base64.b64decode(match.group(1)).decode() if match else None

    def loaded_identity(self):
        loaded = self.conf_dir.parent / LOADED
        match = re.search(r"^\s*id-router = (\S+)\s*$", loaded.read_text(), re.MULTILINE) if loaded.exists() else None
        return match.group(1) if match else None

    def holds_key_in_force(self):
        return self.loaded_key() is not None and self.loaded_key() == self.emulator.edge_psk(self.tunnel["id"])

    def stamp_is_edge_stamp(self):
        edge = self.emulator.tunnel(self.tunnel["id"]).get("psk_metadata", {}).get("last_generated_on")
        return edge is not None and self.stamp() == edge

    def backup(self):
        """The router's files (config, stamp, what it loaded), as a backup would keep them."""
        return {p: p.read_bytes() for p in self.conf_dir.parent.rglob("*") if p.is_file()}

    def restore(self, backup):
        for path in list(self.conf_dir.parent.rglob("*")):
            if path.is_file() and path not in backup:
                path.unlink()
        for path, content in backup.items():
            path.write_bytes(content)

    # --- running the example -------------------------------------------------------------------
    def environment(self, **more):
        """ansible-playbook's environment: the runner's, with the swanctl stand-in first on PATH (charon does
        not run here; it answers --list-conns from what the load command copied)."""
        env = self.runner.environment(**more)
        env["PATH"] = f"{SWANCTL_STAND_IN}{os.pathsep}{env.get('PATH', os.defpath)}"
        env["CFM_SWANCTL_LOADED"] = str(self.conf_dir.parent / LOADED)
        env["CFM_SWANCTL_PYTHON"] = sys.executable
        return env

    def kill(self, started):
        """SIGKILL a run started with ``start`` and its forks (a process group of its own), as AWX's cancel
        of a stuck job or an OOM kill would; record it with returncode "killed"."""
        os.killpg(started["process"].pid, signal.SIGKILL)
        stdout, stderr = started["process"].communicate(timeout=30)
        return self._record(started["what"], "killed", stdout, stderr, started["log_path"], started["posts_before"])

    def inventory(self, reachable=True):
        if reachable:
            host = {"ansible_connection": "local", "ansible_python_interpreter": router_python()}
        else:
            # A router whose address does not answer: ssh to a loopback port nothing listens on.
            host = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": _closed_port(),
                    "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o ConnectTimeout=5"}
        path = self.workdir / "inventory.yml"
        path.write_text(yaml.safe_dump({"all": {"hosts": {"router": host}}}))
        return path

    def extra_vars(self, load_fails=False, **more):
        loaded = self.conf_dir.parent / LOADED
        extra = {
            "strongswan_router": "router",
            "tunnel_name": self.tunnel["name"],
            "swanctl_conf_dir": str(self.conf_dir),
            "cloudflare_ca_path": self.emulator.ca_file,
            # Stands for swanctl --load-all: what charon would now hold is a copy of the config.
            "swanctl_load_command": ["sh", "-c", "exit 1"] if load_fails else ["cp", str(self.config), str(loaded)],
            "swanctl_reauthenticate": False,
        }
        extra.update(more)
        return extra

    def command(self, reachable=True, playbook=EXAMPLE, args=(), **extra_vars):
        return [str(BIN / "ansible-playbook"), "-i", str(self.inventory(reachable)), str(playbook), *args,
                "-e", yaml.safe_dump(self.extra_vars(**extra_vars), default_flow_style=True).strip()]

    def run(self, what, reachable=True, playbook=EXAMPLE, args=(), **extra_vars):
        """Run ``playbook`` (the example unless told) once; ``args`` go to ansible-playbook (--check, -vvv)."""
        before = self._posts()
        log_path = self.workdir / "ansible.log"
        log_path.unlink(missing_ok=True)
        env = self.environment(ANSIBLE_LOG_PATH=str(log_path), ANSIBLE_HOST_KEY_CHECKING="False")
        done = subprocess.run(self.command(reachable, playbook, args, **extra_vars), cwd=self.runner.workdir,
                              env=env, capture_output=True, text=True, timeout=300, check=False)
        return self._record(what, done.returncode, done.stdout, done.stderr, log_path, before)

    def start(self, what, environment=None, **extra_vars):
        """Start a run in the background (with its own log file, ``environment`` added to ansible-playbook's);
        ``finish`` waits for it and records it, ``kill`` kills it."""
        log_path = self.workdir / f"ansible-{len(self.runs)}-{what.replace(' ', '_')}.log"
        env = self.environment(ANSIBLE_LOG_PATH=str(log_path), **(environment or {}))
        process = subprocess.Popen(self.command(True, **extra_vars), cwd=self.runner.workdir, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        return {"what": what, "process": process, "log_path": log_path, "posts_before": self._posts()}

    def finish(self, started, timeout=300):
        stdout, stderr = started["process"].communicate(timeout=timeout)
        return self._record(started["what"], started["process"].returncode, stdout, stderr, started["log_path"],
                            started["posts_before"])

    def edge_stamp(self):
        """Cloudflare's psk_metadata.last_generated_on of the key in force."""
        return self._edge_stamp()

    def wait_for_new_edge_key(self, stamp_before, timeout=120):
        """Block until the emulator has put a key newer than ``stamp_before`` in force; return its stamp."""
        deadline = time.monotonic() + timeout
        while self._edge_stamp() == stamp_before:
            if time.monotonic() > deadline:
                raise AssertionError("the emulator never put a new key in force")
            time.sleep(0.05)
        return self._edge_stamp()

    def run_killed_after_post(self, what, **extra_vars):
        """Run, and kill ansible-playbook once the emulator has put the new key in force, before it answers."""
        from cf_emulator import Fault

        before = self._posts()
        stamp_before = self._edge_stamp()
        self.emulator.push_fault(Fault(kind="delay_after_persist", delay=60.0,
                                       match_path=f"/ipsec_tunnels/{self.tunnel['id']}/psk_generate"))
        log_path = self.workdir / "ansible.log"
        log_path.unlink(missing_ok=True)
        env = self.environment(ANSIBLE_LOG_PATH=str(log_path))
        process = subprocess.Popen(self.command(True, **extra_vars), cwd=self.runner.workdir, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        deadline = time.monotonic() + 120
        while self._edge_stamp() == stamp_before and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        persisted = self._edge_stamp() != stamp_before
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # the run and its forks: a process group of its own
        stdout, stderr = process.communicate(timeout=30)
        self.emulator.clear_faults()
        if not persisted:
            raise AssertionError(f"{what}: the emulator never put a new key in force before the run ended")
        return self._record(what, "killed", stdout, stderr, log_path, before)

    # --- bookkeeping ----------------------------------------------------------------------------
    def _edge_stamp(self):
        return self.emulator.tunnel(self.tunnel["id"]).get("psk_metadata", {}).get("last_generated_on")

    def _posts(self):
        return sum(1 for r in self.emulator.requests
                   if r.method == "POST" and r.path.endswith(f"/{self.tunnel['id']}/psk_generate")
                   and r.query.get("validate_only") not in ("true", "True", "1"))

    def _record(self, what, returncode, stdout, stderr, log_path, posts_before):
        log_text = log_path.read_text() if log_path.exists() else ""
        example_run = ExampleRun(what, returncode, self._posts() - posts_before,
                                 Run(returncode, stdout, stderr, log_text, self.runner.workdir))
        self.runs.append(example_run)
        return example_run

    def key_leaks(self):
        keys = self.emulator.generated_psks()
        return sum(r.run.hits(*keys) for r in self.runs)


def config_stamp(path):
    """The ``# cloudflare.magic psk <stamp>`` line of a router's swanctl file (None without file or line)."""
    path = Path(path)
    match = re.search(r"^# cloudflare\.magic psk (.*)$", path.read_text(), re.MULTILINE) if path.exists() else None
    return match.group(1).strip() if match else None


def _closed_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the probe is: nothing listens there
