"""The docs site builds offline, warnings as errors (docs/docsite/sphinx/build.sh): antsibull-docs writes the
collection's pages and guides, Sphinx resolves every reference, those to Ansible's own docs included, without
fetching anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_the_docs_site_builds_offline_without_a_warning(tmp_path):
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               # Any fetch would fail here, so a build that needs the network cannot pass.
               HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9", NO_PROXY="")
    done = subprocess.run([str(ROOT / "docs" / "docsite" / "sphinx" / "build.sh"), str(tmp_path / "site")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    assert "WARNING" not in log and "build finished with problems" not in log, log[-4000:]
    html = tmp_path / "site" / "build" / "html" / "collections" / "cloudflare" / "magic"
    module = (html / "ipsec_psk_module.html").read_text()
    assert "https://docs.ansible.com/projects/ansible/devel/plugins/action.html#action-plugins" in module
    role = (html / "tunnel_psk_role.html").read_text()
    assert "collections/vyos/vyos/vyos_config_module.html" in role
    assert any(html.glob("docsite/guide_role.html")), sorted(p.name for p in html.rglob("*.html"))
    assert not list((ROOT / "docs" / "docsite" / "sphinx").glob("*.inv")), "the build wrote into the source tree"
