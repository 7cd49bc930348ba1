"""ipsec_psk_bulk's main(), run directly, and its documentation against its argspec."""

from __future__ import annotations

import json

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.cloudflare.magic.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.cloudflare.magic.plugins.module_utils import _bulk
from ansible_collections.cloudflare.magic.plugins.modules import ipsec_psk_bulk

from test_ipsec_psk import module_args


def test_doc_fragment_and_argspec_agree():
    documented = dict(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"],
                      **yaml.safe_load(ipsec_psk_bulk.DOCUMENTATION)["options"])
    spec = _bulk.IPSEC_PSK_BULK_SPEC
    assert set(documented) == set(spec)
    for name, doc in documented.items():
        assert doc["type"] == spec[name]["type"], name
        assert doc.get("default") == spec[name].get("default"), name
        assert doc.get("elements") == spec[name].get("elements"), name
        assert bool(spec[name].get("no_log")) == (name in ("api_token", "api_key", "psks")), name
    ArgumentSpecValidator(spec)


def test_main_sets_every_key_in_one_request(monkeypatch, capsys, emulator):
    from ansible.module_utils import basic

    for name in ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(basic.AnsibleModule, "log", lambda *a, **k: None)
    wanted = [t["id"] for t in emulator.tunnels(emulator.account_id)[:3]]
    args = {"account_id": emulator.account_id, "api_token": emulator.token("magic_wan_write"),
            "api_base_url": emulator.base_url, "ca_path": emulator.ca_file, "ipsec_tunnel_ids": wanted}
    with module_args(args), pytest.raises(SystemExit):
        ipsec_psk_bulk.main()
    result = json.loads(capsys.readouterr().out)
    assert sorted(result["rotated"]) == sorted(wanted)
    same = all(result["rotated"][t]["psk"] == emulator.edge_psk(t) for t in wanted)
    assert same, "main() returned keys that are not in force"
    assert len([r for r in emulator.requests if r.method == "POST"]) == 1
