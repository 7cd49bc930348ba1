#!/usr/bin/env python
"""`make demo`: rotate a Magic WAN tunnel's PSK against the local emulator and hand it to strongSwan.

Starts the Cloudflare API emulator (HTTPS, its own CA), builds and installs the collection from its
tarball, runs the example playbook rotate_and_configure_strongswan.yml exactly as a user would
(credentials in the environment, as AWX injects them), then checks that the key in the rendered
swanctl.conf is the key now in force at the (emulated) edge, and prints a summary without the key.
Then (demo_escrow.py) the tunnel_psk role escrows a rotation in a real OpenBao server and restores a wiped
router from it without rotating.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "demo-out"
BIN = Path(sys.executable).parent
TUNNEL_NAME = "tunnel_nyc_01"
sys.path.insert(0, str(ROOT / "tests" / "emulator"))

from cf_emulator.process import EmulatorStartError, spawn  # noqa: E402


def step(text):
    print(f"\n==> {text}", flush=True)


def run(command, **kwargs):
    subprocess.run([str(c) for c in command], check=True, cwd=ROOT, **kwargs)


def install_collection():
    dist = OUT / "dist"
    run([BIN / "ansible-galaxy", "collection", "build", "--force", "--output-path", dist], stdout=subprocess.DEVNULL)
    tarball = next(dist.glob("cloudflare-magic-*.tar.gz"))
    run([BIN / "ansible-galaxy", "collection", "install", "--force", "-p", OUT / "collections", tarball],
        stdout=subprocess.DEVNULL, env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(OUT / "collections")))
    return tarball


def seed_credentials(seed):
    account = seed["accounts"][0]
    token = next(t["value"] for t in seed["tokens"] if "Magic WAN Write" in t["permissions"])
    tunnel = next(t for t in account["tunnels"] if t["name"] == TUNNEL_NAME)
    return account, token, tunnel


def key_in_config(path):
    match = re.search(r"^\s*secret = 0s(\S+)\s*$", path.read_text(), re.MULTILINE)
    return base64.b64decode(match.group(1)).decode() if match else None


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "router").mkdir(parents=True)
    step("Starting the Cloudflare API emulator")
    try:
        emulator = spawn(OUT / "emulator", log_file=OUT / "emulator.log")
    except EmulatorStartError as problem:
        raise SystemExit(f"demo failed: {problem}") from None
    try:
        print(f"emulator: {emulator.base_url} (CA certificate {Path(emulator.ca_file).relative_to(ROOT)})")
        step("Building and installing cloudflare.magic from its tarball")
        tarball = install_collection()
        print(f"installed {tarball.name} into {(OUT / 'collections').relative_to(ROOT)}")
        account, token, tunnel = seed_credentials(emulator.seed)
        account_id, tunnel_id = account["id"], tunnel["id"]
        # Cloudflare's published psk_generate answer has no ipsec_id: without a custom remote identity on the
        # tunnel, the router's IKE identity is what the dashboard shows, given as router_ike_id.
        identity = [] if (tunnel.get("custom_remote_identities") or {}).get("fqdn_id") else [
            "-e", f"router_ike_id={tunnel_id}.{account['tag']}.ipsec.cloudflare.com"]
        control = emulator.control
        before = control.edge(tunnel_id).get("last_generated_on")

        step("Running docs/examples/rotate_and_configure_strongswan.yml")
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(OUT / "collections"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
                   CLOUDFLARE_ACCOUNT_ID=account_id, CLOUDFLARE_API_TOKEN=token,
                   CLOUDFLARE_BASE_URL=emulator.base_url, ANSIBLE_PYTHON_INTERPRETER=sys.executable)
        run([BIN / "ansible-playbook", "-i", "localhost,", "-c", "local",
             "docs/examples/rotate_and_configure_strongswan.yml",
             "-e", f"swanctl_conf_dir={OUT / 'router'}", "-e", f"cloudflare_ca_path={emulator.ca_file}",
             "-e", f"tunnel_name={TUNNEL_NAME}", "-e", "swanctl_load=false", *identity], env=env)

        config = OUT / "router" / f"cloudflare-{TUNNEL_NAME}.conf"
        edge = control.edge(tunnel_id)
        in_force = key_in_config(config) == edge["psk"]
        step("Summary")
        print(f"tunnel:            {TUNNEL_NAME} ({tunnel_id})")
        print(f"key generated:     {edge['last_generated_on']} (before: {before or 'never'})")
        print("key:               hidden (it appears in no output and no log)")
        print(f"router config:     {config.relative_to(ROOT)} (mode {oct(config.stat().st_mode & 0o777)})")
        print(f"config key == key in force at Cloudflare: {'yes' if in_force else 'NO'}")
        stamp = config_stamp(config)
        print(f"router stamp:      '# cloudflare.magic psk ...' in {config.name} == last_generated_on: "
              f"{'yes' if stamp == edge['last_generated_on'] else 'NO'}")
        if not in_force or stamp != edge["last_generated_on"]:
            return 1
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import demo_escrow
        import demo_tunnel

        code = demo_tunnel.main(ROOT, OUT, config)
        # Last, since it rotates the tunnel again: one escrowed rotation, one restore without rotating.
        role_identity = {"tunnel_psk_ike_id": identity[1].split("=", 1)[1]} if identity else {}
        return code or demo_escrow.main(ROOT, OUT, emulator, env, role_identity)
    finally:
        emulator.stop()
        print("\nemulator stopped")


def config_stamp(config):
    """The stamp recorded next to the key: the ``# cloudflare.magic psk <last_generated_on>`` line."""
    for line in config.read_text().splitlines() if config.exists() else ():
        if line.startswith("# cloudflare.magic psk "):
            return line[len("# cloudflare.magic psk "):].strip()
    return None


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as failed:
        sys.exit(f"demo failed: {Path(failed.cmd[0]).name} exited with {failed.returncode} (its output is above)")
