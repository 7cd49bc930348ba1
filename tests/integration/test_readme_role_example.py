"""The READMEs' role example, as a new user copies it, against the emulator's default (published-form) answer,
which holds no ipsec_id: with the tunnel_psk_ike_id it shows, the key and that identity reach the router."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cf_emulator import Emulator
from support.ipsec_example_runs import LOADED, StrongswanRouter

ROOT = Path(__file__).resolve().parents[2]


def role_example(readme):
    """The role's vars of the first YAML block that uses the role."""
    for block in re.findall(r"```yaml\n(.*?)```", readme.read_text(), re.DOTALL):
        if "role: cloudflare.magic.tunnel_psk" in block:
            return yaml.safe_load(block)[0]["roles"][0]["vars"]
    raise AssertionError(f"no role example in {readme}")


@pytest.mark.parametrize("readme", ["README.md", "roles/tunnel_psk/README.md"])
def test_the_readmes_role_example_with_its_ike_id_hands_the_key_on(readme, tmp_path):
    example = role_example(ROOT / readme)
    assert example["tunnel_psk_ike_id"].endswith(".ipsec.cloudflare.com")
    emulator = Emulator(tls=True, state_dir=str(tmp_path / "emulator")).start()
    try:
        router = StrongswanRouter(tmp_path, emulator, tunnel_name=example["tunnel_psk_tunnel_name"])
        playbook = tmp_path / "role.yml"
        playbook.write_text(yaml.safe_dump([{"name": "The README's play", "hosts": "router", "gather_facts": False,
                                             "roles": [{"role": "cloudflare.magic.tunnel_psk", "vars": example}]}]))
        folder = {"tunnel_psk_swanctl_conf_dir": str(router.conf_dir), "tunnel_psk_ca_path": emulator.ca_file,
                  "tunnel_psk_swanctl_load_command": ["cp", str(router.config), str(router.conf_dir.parent / LOADED)],
                  "tunnel_psk_verify": False}
        done = router.run("the README's example", playbook=playbook, **folder)
        assert done.returncode == 0, done.run.stdout[-3000:]
        assert router.holds_key_in_force() and router.stamp_is_edge_stamp()
        assert f"id = {example['tunnel_psk_ike_id']}" in router.config.read_text()
    finally:
        emulator.stop()
