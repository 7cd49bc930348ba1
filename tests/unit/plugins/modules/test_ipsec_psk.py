"""The module's own main(), run directly (the path used when the action plugin is bypassed)."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.cloudflare.magic.plugins.module_utils import _options
from ansible_collections.cloudflare.magic.plugins.modules import ipsec_psk


def module_args(args):
    """ansible-core 2.19+ has a helper for this; older releases read basic._ANSIBLE_ARGS."""
    try:
        from ansible.module_utils.testing import patch_module_args
    except ImportError:
        import contextlib

        from ansible.module_utils import basic

        @contextlib.contextmanager
        def patch_module_args(values):
            saved = basic._ANSIBLE_ARGS
            basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": values}).encode()
            try:
                yield
            finally:
                basic._ANSIBLE_ARGS = saved
    return patch_module_args(args)


def run_main(monkeypatch, capsys, args):
    from ansible.module_utils import basic

    for name in ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY", "CLOUDFLARE_ACCOUNT_ID",
                 "CLOUDFLARE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(basic.AnsibleModule, "log", lambda *a, **k: None)
    with module_args(args), pytest.raises(SystemExit):
        ipsec_psk.main()
    return json.loads(capsys.readouterr().out)


def test_main_rotates_and_returns_the_edge_key(monkeypatch, capsys, emulator):
    tunnel = emulator.tunnels(emulator.account_id)[0]
    result = run_main(monkeypatch, capsys, {
        "account_id": emulator.account_id, "api_token": emulator.token("magic_wan_write"),
        "api_base_url": emulator.base_url, "ca_path": emulator.ca_file, "ipsec_tunnel_id": tunnel["id"]})
    assert result["changed"] is True
    same = result["psk"] == emulator.edge_psk(tunnel["id"])
    assert same, "main() returned a key that is not in force"


def test_main_fails_cleanly_on_bad_identifier(monkeypatch, capsys, emulator):
    result = run_main(monkeypatch, capsys, {
        "account_id": emulator.account_id, "api_token": emulator.token("magic_wan_write"),
        "api_base_url": emulator.base_url, "ca_path": emulator.ca_file, "ipsec_tunnel_id": "xyz"})
    assert result["failed"] is True
    assert result["msg"].startswith("ipsec_tunnel_id: must be 32 hexadecimal characters")
    assert "exception" not in result
    assert emulator.requests == []


def test_doc_fragment_and_argspec_agree():
    """Every option documented is in the argspec with the same type and default, and the other way round."""
    import yaml
    from ansible_collections.cloudflare.magic.plugins.doc_fragments.connection import ModuleDocFragment

    fragment = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    module_doc = yaml.safe_load(ipsec_psk.DOCUMENTATION)["options"]
    documented = dict(fragment, **module_doc)
    spec = _options.IPSEC_PSK_SPEC
    assert set(documented) == set(spec)
    for name, doc in documented.items():
        assert doc["type"] == spec[name]["type"], name
        assert doc.get("default") == spec[name].get("default"), name
        assert bool(spec[name].get("no_log")) == (name in ("api_token", "api_key", "psk")), name
    ArgumentSpecValidator(spec)  # the spec itself is well-formed
