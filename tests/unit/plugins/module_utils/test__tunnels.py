"""find_tunnel_by_name against answers the emulator cannot give: Cloudflare keeps names unique, and so
does the emulator's seed, so "more than one match" is only reachable with a hand-made list answer."""

from __future__ import annotations

import pytest

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import ApiError, TunnelLookupError
from ansible_collections.cloudflare.magic.plugins.module_utils._tunnels import find_tunnel_by_name


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
