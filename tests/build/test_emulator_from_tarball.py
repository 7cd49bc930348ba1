"""The emulator as a new user starts it from the installed collection: one documented command, then a module run
with nothing but the environment file it wrote (no ca_path, no credentials typed: REQUESTS_CA_BUNDLE is in it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def clean_environment(**extra):
    """The user's shell: no CLOUDFLARE_* or CA variables, no ANSIBLE_* of the test run."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CLOUDFLARE_", "ANSIBLE_", "CF_EMULATOR_")) and k not in ("REQUESTS_CA_BUNDLE",
                                                                                          "CURL_CA_BUNDLE")}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0", **extra)
    return env


def shell(script, cwd, env):
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          check=False)


def test_the_installed_collection_starts_its_emulator_and_the_env_file_is_all_a_module_needs(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = clean_environment(HOME=str(home), ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "collections"),
                            ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"))
    built = shell(f"ansible-galaxy collection build {ROOT} --output-path {tmp_path} && ansible-galaxy collection "
                  f"install {tmp_path}/cloudflare-magic-*.tar.gz -p {tmp_path / 'collections'}", tmp_path, env)
    assert built.returncode == 0, built.stdout + built.stderr

    started = shell("ansible-playbook cloudflare.magic.emulator", home, env)  # the README's command, as written
    env_file = home / "cloudflare-magic-emulator" / "env.sh"
    assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
    variables = dict(line.removeprefix("export ").split("=", 1) for line in env_file.read_text().splitlines())
    pid = int(variables["CF_EMULATOR_PID"])
    try:
        assert variables["REQUESTS_CA_BUNDLE"] == variables["CF_EMULATOR_CA_FILE"] != ""
        assert f"Now run: . {env_file}" in started.stdout and variables["CLOUDFLARE_API_TOKEN"] not in started.stdout
        rotated = shell(f". {env_file} && ansible localhost -m cloudflare.magic.ipsec_psk "
                        "-a ipsec_tunnel_name=tunnel_nyc_01", home, env)
        assert rotated.returncode == 0, rotated.stdout[-3000:] + rotated.stderr[-3000:]
        assert "tunnel tunnel_nyc_01 (" in rotated.stdout and "a new key is in force" in rotated.stdout
    finally:
        os.kill(pid, signal.SIGTERM)
        for _attempt in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
