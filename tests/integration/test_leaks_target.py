"""The target's syslog: ipsec_psk runs nothing on the inventory host, and its main() (a direct module
run) logs an "Invoked with" line that holds no credential."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from reliability.channels import syslog_env
from reliability.common import FAST_RETRIES, tunnel_id
from support.playbooks import rotate_task, write_psk_task


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_nothing_runs_on_the_target(emulator, playbooks, tmp_path):
    """The host is only reachable by ssh on a closed port: any module run there would be UNREACHABLE."""
    router = tmp_path / "router-psk"
    rotate = rotate_task(emulator, ipsec_tunnel_id=tunnel_id(emulator), **FAST_RETRIES)
    plays = [{"name": "Unreachable target", "hosts": "branch", "gather_facts": False,
              "tasks": [rotate, dict(write_psk_task(router), delegate_to="localhost")]}]
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(f"branch ansible_connection=ssh ansible_host=127.0.0.1 ansible_port={closed_port()} "
                         f"ansible_python_interpreter={sys.executable}\n")
    run = playbooks.run(plays, "-i", str(inventory), "--limit", "branch", verbosity=3)
    assert run.returncode == 0 and "UNREACHABLE" not in run.stdout, run.stdout[-2000:]
    ok = router.read_text() == emulator.edge_psk(tunnel_id(emulator))
    assert ok, "the router task did not get the edge key"
    assert run.hits(*emulator.generated_psks(), playbooks.token) == 0


def test_module_main_logs_no_secret_to_syslog(emulator, playbooks, tmp_path):
    capture = tmp_path / "syslog.txt"
    args = tmp_path / "args.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(
        FAST_RETRIES, ipsec_tunnel_id=tunnel_id(emulator), account_id=playbooks.account_id,
        api_token=playbooks.token, api_base_url=emulator.base_url, ca_path=emulator.ca_file)}))
    collections = os.environ["ANSIBLE_COLLECTIONS_PATH"].split(os.pathsep)[0]
    env = playbooks.environment(CLOUDFLARE_API_TOKEN=None, **syslog_env(capture))
    env["PYTHONPATH"] = os.pathsep.join((env["PYTHONPATH"], collections))
    done = subprocess.run([sys.executable, "-m", "ansible_collections.cloudflare.magic.plugins.modules.ipsec_psk",
                           str(args)], env=env, capture_output=True, text=True, timeout=120, check=False)
    result = json.loads(done.stdout)
    ok = result.get("psk") == emulator.edge_psk(tunnel_id(emulator))
    assert ok, "main() did not return the edge key"
    lines = capture.read_text().splitlines()
    invoked = [line for line in lines if "Invoked with" in line]
    assert invoked, "no syslog line was captured"
    assert sum(line.count(s) for line in lines for s in (playbooks.token, result["psk"])) == 0, "secret in syslog"
    assert "Traceback" not in done.stderr
