"""ipsec_tunnel_info's main(), run directly, and its documentation against its argspec."""

from __future__ import annotations

import json

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.cloudflare.magic.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.cloudflare.magic.plugins.module_utils import _info
from ansible_collections.cloudflare.magic.plugins.modules import ipsec_tunnel_info

from test_ipsec_psk import module_args


def test_doc_fragment_and_argspec_agree():
    documented = dict(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"],
                      **yaml.safe_load(ipsec_tunnel_info.DOCUMENTATION)["options"])
    spec = _info.IPSEC_TUNNEL_INFO_SPEC
    assert set(documented) == set(spec)
    for name, doc in documented.items():
        assert doc["type"] == spec[name]["type"], name
        assert doc.get("default") == spec[name].get("default"), name
        assert doc.get("elements") == spec[name].get("elements"), name
        assert bool(spec[name].get("no_log")) == (name in ("api_token", "api_key")), name
    ArgumentSpecValidator(spec)


def test_returned_fields_are_documented():
    documented = yaml.safe_load(ipsec_tunnel_info.RETURN)
    row = set(documented["ipsec_tunnels"]["contains"])
    assert row == set(_info.REPORTED_FIELDS) | {"psk_metadata", "psk_age_days", "never_generated", "overdue", "psk_metadata_problem",
                                                "router_stale"}
    assert set(documented["summary"]["contains"]) == {"total", "never_generated", "unknown_age", "overdue", "router_stale", "oldest"}


def test_main_reports_with_a_read_token_in_one_request(monkeypatch, capsys, emulator):
    from ansible.module_utils import basic

    for name in ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(basic.AnsibleModule, "log", lambda *a, **k: None)
    args = {"account_id": emulator.account_id, "api_token": emulator.token("magic_wan_read"),
            "api_base_url": emulator.base_url, "ca_path": emulator.ca_file, "max_age": "90d",
            "_ansible_check_mode": True}
    with module_args(args), pytest.raises(SystemExit):
        ipsec_tunnel_info.main()
    result = json.loads(capsys.readouterr().out)
    assert result["changed"] is False and result["summary"]["total"] == 5 and result["summary"]["overdue"] == 3
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in emulator.requests] == [("GET", "ipsec_tunnels")]
