"""Publishable: the built tarball installs, runs a playbook against the emulator, and Galaxy imports it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.playbooks import play, rotate_task, seed_account, write_psk_task

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*command, cwd, env=None):
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    run(BIN / "ansible-galaxy", "collection", "build", ROOT, "--output-path", out, cwd=out)
    (built,) = out.glob("cloudflare-magic-*.tar.gz")
    return built


def test_tarball_installs_and_runs_a_playbook(tarball, playbooks, emulator, tmp_path):
    installed = tmp_path / "installed"
    run(BIN / "ansible-galaxy", "collection", "install", tarball, "-p", installed, "--force", cwd=tmp_path)
    manifest = json.loads((installed / "ansible_collections" / "cloudflare" / "magic" / "MANIFEST.json").read_text())
    assert manifest["collection_info"]["namespace"] == "cloudflare"

    t = seed_account(emulator)["tunnels"][0]
    router_file = tmp_path / "router-psk"
    plays = play(rotate_task(emulator, ipsec_tunnel_id=t["id"]), write_psk_task(router_file))
    # Control: with an empty collections path the module is not found, so the run below uses the tarball's copy.
    (tmp_path / "empty").mkdir()
    unresolved = playbooks.run(plays, env={"ANSIBLE_COLLECTIONS_PATH": str(tmp_path / "empty")})
    assert unresolved.returncode != 0 and not emulator.requests
    result = playbooks.run(plays, env={"ANSIBLE_COLLECTIONS_PATH": str(installed)})
    assert result.returncode == 0, result.stdout[-3000:]
    edge = emulator.edge_psk(t["id"])
    same = bool(edge) and router_file.read_text() == edge
    assert same, "the router task did not get the key in force"


def test_tarball_leaves_out_development_files(tarball):
    listing = run("tar", "-tzf", tarball, cwd=tarball.parent).stdout.split()
    assert not [n for n in listing if n.startswith((".venv", "collections/", ".git/", "tests/output"))]
    assert "meta/runtime.yml" in listing and "plugins/modules/ipsec_psk.py" in listing
    role = {"roles/tunnel_psk/meta/argument_specs.yml", "roles/tunnel_psk/tasks/main.yml",
            "roles/tunnel_psk/templates/strongswan/swanctl.conf.j2", "roles/tunnel_psk/defaults/main/core.yml",
            "roles/tunnel_psk/tasks/vyos/handoff.yml", "roles/tunnel_psk/templates/vyos/tunnel.set.j2",
            "roles/tunnel_psk/tasks/ios_xe/handoff.yml", "roles/tunnel_psk/templates/ios_xe/magic_wan.cfg.j2"}
    assert role <= set(listing), sorted(role - set(listing))
    # `make demo` from the unpacked tarball: the demo, its lab, and the emulator it starts all ship.
    demo_needs = {"docs/examples/demo.py", "docs/examples/lab/ipsec_lab.py", "tests/emulator/cf_emulator/process.py"}
    assert demo_needs <= set(listing)


@pytest.mark.slow(reason="galaxy-importer runs ansible-doc and ansible-lint on the tarball, as Galaxy does")
def test_galaxy_importer_accepts_the_tarball(tarball, tmp_path):
    env = dict(os.environ, GALAXY_IMPORTER_CONFIG=str(ROOT / "tests" / "build" / "galaxy-importer.cfg"),
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    done = run(sys.executable, "-m", "galaxy_importer.main", tarball, "--print-result", cwd=tmp_path, env=env)
    log = done.stdout + done.stderr
    assert "ERROR" not in log, log[-4000:]
    result = json.loads(log[log.index("{"):log.rindex("}") + 1]) if "{" in log else {}
    contents = {(c["content_type"], c["name"]) for c in result.get("contents", [])}
    assert ("module", "ipsec_psk") in contents, log[-4000:]
    assert ("role", "tunnel_psk") in contents, log[-4000:]
