"""The filters as a template calls them: the same logic as plugin_utils/_handoff, with Ansible's filter errors."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.cloudflare.magic.plugins.filter.handoff import FilterModule

FILTERS = FilterModule().filters()


def test_every_filter_is_published_under_its_documented_name():
    assert sorted(FILTERS) == ["answer_refusals", "ike_identity", "name_refusals", "psk_stamp", "psk_stamp_time",
                               "router_inside_address"]


def test_derived_values():
    assert FILTERS["router_inside_address"]("10.252.2.26/31") == "10.252.2.27/31"
    assert FILTERS["ike_identity"]({"ipsec_id": "a.b.ipsec.cloudflare.com"}, "") == "a.b.ipsec.cloudflare.com"
    assert FILTERS["psk_stamp"]("2026-11-26T10:48:15Z", "pending") == "cloudflare.magic psk pending 2026-11-26T10:48:15Z"
    assert FILTERS["psk_stamp_time"]("cloudflare.magic psk 2026-11-26T10:48Z") == ""
    assert FILTERS["answer_refusals"]({"tunnel": {}}, "vyos") == ["cloudflare_endpoint of Cloudflare's tunnel is not an "
                                                                  "IP address", "interface_address of Cloudflare's "
                                                                  "tunnel is not an address with its prefix length "
                                                                  "(such as 10.252.2.26/31)"]


@pytest.mark.parametrize(("name", "args", "says"), [
    ("router_inside_address", ("10.0.0.0/24",), "cloudflare.magic.router_inside_address: interface_address is a /24"),
    ("psk_stamp", ("2026-01-01",), "cloudflare.magic.psk_stamp: the stamp's time is not an RFC 3339 time"),
    ("name_refusals", (["tunnel_psk_ike_id"],), "cloudflare.magic.name_refusals: give a mapping"),
])
def test_bad_input_fails_as_a_filter_error_naming_the_filter(name, args, says):
    with pytest.raises(AnsibleFilterError, match="^" + says.replace("(", r"\(")):
        FILTERS[name](*args)
