"""The ``tunnel`` return value never shows the tunnel's other secrets (Cloudflare's ``bgp.md5_key``)."""

from __future__ import annotations

import secrets

import pytest
from cf_emulator import Emulator, default_seed
from support.playbooks import PlaybookRunner, play, rotate_task, write_psk_task
from support.results import load_result, save_result_task

from ansible_collections.cloudflare.magic.plugins.module_utils._rotation import SECRET_MARKER

TUNNEL_NAME = "tunnel_nyc_01"  # its key is 12 days old in the default seed


@pytest.fixture
def md5_key():
    return secrets.token_hex(20)


@pytest.fixture
def bgp_emulator(tmp_path, md5_key):
    seed = default_seed()
    tunnel = [t for t in seed["accounts"][0]["tunnels"] if t["name"] == TUNNEL_NAME][0]
    tunnel["bgp"] = {"customer_asn": 64512, "md5_key": md5_key, "extra_prefixes": ["192.0.2.0/24"]}
    emu = Emulator(tls=True, state_dir=str(tmp_path / "emulator"), seed=seed).start()
    try:
        yield emu
    finally:
        emu.stop()


CASES = {  # (extra arguments, find the tunnel by, max_age, whether the task reports a change)
    "fresh-key-left-alone-by-id": ((), "ipsec_tunnel_id", "90d", False),
    "check-mode-by-name": (("--check",), "ipsec_tunnel_name", "1d", True),
    "rotation-by-name": ((), "ipsec_tunnel_name", None, True),
}


@pytest.mark.parametrize("args, find_by, max_age, changed", list(CASES.values()), ids=list(CASES))
def test_the_md5_key_is_never_shown_nor_registered(bgp_emulator, md5_key, tmp_path, args, find_by, max_age, changed):
    emu = bgp_emulator
    tunnel = next(t for t in emu.tunnels() if t["name"] == TUNNEL_NAME)
    answered = emu.tunnel(tunnel["id"])["bgp"]["md5_key"] == md5_key
    assert answered, "the emulator's tunnel has no md5_key to hide"  # (booleans only: no key in a failure)
    playbooks = PlaybookRunner(tmp_path / "run", emu)
    options = {find_by: tunnel["id"] if find_by == "ipsec_tunnel_id" else TUNNEL_NAME}
    if max_age:
        options["max_age"] = max_age
    saved = tmp_path / "result.json"
    run = playbooks.run(play(rotate_task(emu, **options), write_psk_task(tmp_path / "router-psk"),
                             save_result_task(saved)), "--diff", *args, verbosity=3)

    assert run.returncode == 0, run.stdout[-3000:]
    result = load_result(saved)
    assert result["changed"] is changed and result["has_psk"] is (changed and "--check" not in args)
    hidden = result["tunnel"]["bgp"]["md5_key"] == SECRET_MARKER
    assert hidden, "the registered tunnel.bgp.md5_key is not the marker"
    assert result["tunnel"]["bgp"]["customer_asn"] == 64512 and result["tunnel"]["name"] == TUNNEL_NAME
    assert run.hits(md5_key) == 0
    assert saved.read_text().count(md5_key) == 0
    assert run.hits(playbooks.token, emu.edge_psk(tunnel["id"])) == 0
