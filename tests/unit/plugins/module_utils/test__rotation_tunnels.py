"""find_tunnel_by_name against answers the emulator cannot give: Cloudflare keeps names unique, and so
does the emulator's seed, so "more than one match" is only reachable with a hand-made list answer."""

from __future__ import annotations

import secrets

import pytest

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import ApiError, TunnelLookupError
from ansible_collections.cloudflare.magic.plugins.module_utils._rotation import find_tunnel_by_name


class ListAnswer:
    def __init__(self, result):
        self.result = result
        self.calls = []

    def call(self, method, path, params=None, body=None, mutates=False):
        self.calls.append((method, path))
        return self.result


def tunnels(*names):
    return {"ipsec_tunnels": [{"id": f"{i:032x}", "name": n} for i, n in enumerate(names)]}


def test_two_tunnels_of_one_name_fail_saying_how_many_matched():
    client = ListAnswer(tunnels("a", "dup", "dup"))
    with pytest.raises(TunnelLookupError) as raised:
        find_tunnel_by_name(client, "acc", "dup")
    assert "2 of the account's 3 IPsec tunnels are named 'dup'" in str(raised.value)
    assert client.calls == [("GET", "/accounts/acc/magic/ipsec_tunnels")]


def test_exactly_one_match_is_returned():
    found = find_tunnel_by_name(ListAnswer(tunnels("a", "b")), "acc", "b")
    assert found["name"] == "b"


def test_names_match_exactly_not_by_case_or_prefix():
    with pytest.raises(TunnelLookupError, match="0 of the account's 2"):
        find_tunnel_by_name(ListAnswer(tunnels("Lab", "lab_2")), "acc", "lab")


def test_a_list_answer_without_ipsec_tunnels_is_an_api_error():
    with pytest.raises(ApiError):
        find_tunnel_by_name(ListAnswer({"ipsec_tunnel": {}}), "acc", "a")


def test_secret_shaped_fields_of_a_tunnel_are_hidden_at_any_depth_and_the_rest_kept():
    from ansible_collections.cloudflare.magic.plugins.module_utils._rotation import SECRET_MARKER, hide_tunnel_secrets

    md5_key, psk = secrets.token_hex(16), secrets.token_urlsafe(32)
    tunnel = {"id": "a" * 32, "name": "t1", "psk": psk, "psk_metadata": {"last_generated_on": "2025-01-01T00:00:00Z"},
              "bgp": {"customer_asn": 64512, "md5_key": md5_key, "extra_prefixes": ["192.0.2.0/24"]},
              "peers": [{"auth": {"Shared_Secret": md5_key, "apiToken": md5_key, "password": None}}],
              "bgp_status": {"state": "BGP_UP"}, "signing_key": ""}
    shown = hide_tunnel_secrets(tunnel)
    leaks = repr(shown).count(md5_key) + repr(shown).count(psk)
    assert leaks == 0
    hidden = [shown["psk"], shown["bgp"]["md5_key"], *shown["peers"][0]["auth"].values()]
    assert hidden == [SECRET_MARKER] * 4 + [None]
    assert shown["bgp"]["customer_asn"] == 64512 and shown["bgp"]["extra_prefixes"] == ["192.0.2.0/24"]
    assert shown["psk_metadata"] == tunnel["psk_metadata"] and shown["bgp_status"] == tunnel["bgp_status"]
    input_kept = tunnel["bgp"]["md5_key"] == md5_key
    assert shown["signing_key"] == "" and input_kept  # booleans only, so that a failure shows no key


def test_a_tunnel_found_by_name_or_id_comes_back_without_its_md5_key():
    from ansible_collections.cloudflare.magic.plugins.module_utils._rotation import SECRET_MARKER, get_tunnel

    md5_key = secrets.token_hex(16)
    listed = {"ipsec_tunnels": [{"id": "b" * 32, "name": "t1", "bgp": {"md5_key": md5_key}}]}
    by_name = find_tunnel_by_name(ListAnswer(listed), "acc", "t1")["bgp"]["md5_key"] == SECRET_MARKER
    one = {"ipsec_tunnel": {"id": "b" * 32, "name": "t1", "bgp": {"md5_key": md5_key}}}
    by_id = get_tunnel(ListAnswer(one), "acc", "b" * 32)["bgp"]["md5_key"] == SECRET_MARKER
    assert by_name and by_id
