"""The escrow's cell of the loop x callback matrix: the tunnel_psk role rotates a strongSwan router's key, escrows it
in a real OpenBao server through community.hashi_vault (a KV write, the metadata and capability reads) and hands it
on, at -vvv with log_path, under one stdout callback. stdout, stderr and the log are searched for every key the
emulator made and for the escrow's token and the Cloudflare token.

community.hashi_vault 7.1.0 (the pinned ansible wheel's) declares requires_ansible >= 2.17: on 2.16 the cell is
skipped, saying so.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from ansible.module_utils.compat.version import LooseVersion
from ansible.release import __version__ as ansible_core

from reliability.callbacks import collections_path
from reliability.loops import LoopOutcome
from support.ipsec_example_runs import LOADED, StrongswanRouter

TUNNEL = "tunnel_nyc_01"
ESCROW_PATH = f"cloudflare-magic/lab/{TUNNEL}"
ESCROW_WRITE = "Escrow - write the new key as a new version"


def hashi_vault_refuses(collections):
    """Why community.hashi_vault cannot run on this ansible-core (its meta/runtime.yml's requires_ansible), or ''."""
    runtime = Path(collections) / "ansible_collections" / "community" / "hashi_vault" / "meta" / "runtime.yml"
    wanted = yaml.safe_load(runtime.read_text()).get("requires_ansible", "")
    floor = wanted.split(",")[0].lstrip(">= ")
    if floor and LooseVersion(ansible_core) < LooseVersion(floor):
        return f"community.hashi_vault of the pinned ansible wheel requires ansible-core {wanted}; this is {ansible_core}"
    return ""


def run_escrow_cell(callback, emulator, workdir, bao, hashi_vault_path, verbosity=3):
    router = StrongswanRouter(workdir, emulator, TUNNEL)
    playbook = workdir / "escrow-role.yml"
    playbook.write_text(yaml.safe_dump([{"name": "The role with escrow", "hosts": "router", "gather_facts": False,
                                         "roles": ["cloudflare.magic.tunnel_psk"]}]))
    mount = bao.new_mount()
    env = {**callback.environment(workdir / "callback-output"), "VAULT_ADDR": bao.url, "VAULT_TOKEN": bao.root_token,
           "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join((hashi_vault_path, collections_path()))}
    started = router.start("escrowed rotation", environment=env, playbook=playbook, args=["-" + "v" * verbosity],
                           tunnel_psk_platform="strongswan", tunnel_psk_tunnel_name=TUNNEL,
                           tunnel_psk_swanctl_conf_dir=str(router.conf_dir), tunnel_psk_ca_path=emulator.ca_file,
                           tunnel_psk_swanctl_load_command=["cp", str(router.config), str(router.conf_dir.parent / LOADED)],
                           tunnel_psk_verify=False, tunnel_psk_ike_id="router.example.net", tunnel_psk_escrow=True,
                           tunnel_psk_escrow_mount=mount, tunnel_psk_escrow_path=ESCROW_PATH)
    done = router.finish(started)
    run = done.run
    secrets = [*emulator.generated_psks(), bao.root_token, router.runner.token]

    def count(text):
        return sum(text.count(s) for s in secrets if s)
    escrowed = (bao.read(mount, ESCROW_PATH) or {}).get("data") or {}
    in_force = emulator.edge_psk(router.tunnel["id"])
    return LoopOutcome(
        returncode=done.returncode, keys=len(emulator.generated_psks()),
        hits={"stdout, stderr": count(run.stdout + run.stderr), "log_path": count(run.log_text)},
        files=0, callback_saw_rotation=ESCROW_WRITE in run.stdout, echo_failed=False,
        keys_ok=in_force is not None and escrowed.get("psk") == in_force == router.loaded_key())
