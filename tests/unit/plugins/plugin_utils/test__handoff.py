"""What the role hands a router: the inside address, the IKE identity, the stamp grammar, and the refusals of
values that a router's configuration cannot carry (messages name the field and never quote the key)."""

from __future__ import annotations

import pytest

from ansible_collections.cloudflare.magic.plugins.plugin_utils import _handoff
from ansible_collections.cloudflare.magic.plugins.plugin_utils._handoff import HandoffValueError

KEY = "Xq3-vR8_tL2mN7pK4sW9yB1cD6fG0hJ5aE-uI8oP2zQ"  # 43 URL-safe base64 characters, as Cloudflare generates
STAMP = "2026-11-26T10:48:15.953887008Z"


def answer(**tunnel_fields):
    tunnel = {"name": "tunnel_nyc_01", "cloudflare_endpoint": "162.159.66.164", "customer_endpoint": "203.0.113.10",
              "interface_address": "10.252.2.26/31", **tunnel_fields}
    return {"psk": KEY, "psk_metadata": {"last_generated_on": STAMP}, "tunnel": tunnel}


@pytest.mark.parametrize(("cloudflare_side", "router_side"), [
    ("10.252.2.26/31", "10.252.2.27/31"), ("10.252.2.27/31", "10.252.2.26/31"),
    ("169.254.240.0/31", "169.254.240.1/31"),
    ("10.252.2.5/30", "10.252.2.6/30"), ("10.252.2.6/30", "10.252.2.5/30"),
    (" 10.0.0.1/30 ", "10.0.0.2/30"),
])
def test_the_router_takes_the_other_usable_address_of_the_31_or_30(cloudflare_side, router_side):
    assert _handoff.router_inside_address(cloudflare_side) == router_side


@pytest.mark.parametrize(("value", "says"), [
    ("10.252.2.26", "prefix length"), ("10.252.2.26/24", "is a /24"), ("10.252.2.26/32", "is a /32"),
    ("10.252.2.4/30", "network or broadcast"), ("10.252.2.7/30", "network or broadcast"),
    ("fd00::1/127", "IPv6"), ("10.252.2.300/31", "prefix length"), ("", "prefix length"), (None, "prefix length"),
    ("10.252.2.26/31\nset system login", "prefix length"),
])
def test_an_inside_address_that_is_not_an_ipv4_31_or_30_is_refused(value, says):
    with pytest.raises(HandoffValueError, match="interface_address") as refused:
        _handoff.router_inside_address(value)
    assert says in f"{refused.value}"


def test_the_identity_is_the_input_else_the_answers_ipsec_id_else_the_custom_fqdn_id():
    rotated = answer(custom_remote_identities={"fqdn_id": "nyc.x.custom.ipsec.cloudflare.com"})
    rotated["ipsec_id"] = "t.5099ade1.ipsec.cloudflare.com"
    assert _handoff.ike_identity_source(rotated, "router.example.net") == ("router.example.net", "tunnel_psk_ike_id")
    assert _handoff.ike_identity_source(rotated, "")[0] == "t.5099ade1.ipsec.cloudflare.com"
    del rotated["ipsec_id"]
    assert _handoff.ike_identity_source(rotated, None)[0] == "nyc.x.custom.ipsec.cloudflare.com"
    assert _handoff.ike_identity_source(answer(), None) == ("", None)
    assert _handoff.ike_identity_source(None, None) == ("", None)
    assert _handoff.ike_identity_source({"tunnel": {"custom_remote_identities": None}}) == ("", None)


def test_the_stamp_grammar_and_reading_a_stamp_back():
    assert _handoff.psk_stamp(STAMP) == f"cloudflare.magic psk {STAMP}"
    assert _handoff.psk_stamp(STAMP, "pending") == f"cloudflare.magic psk pending {STAMP}"
    assert _handoff.psk_stamp("", "unverified") == "cloudflare.magic psk unverified"
    for written in (_handoff.psk_stamp(STAMP), f"# cloudflare.magic psk {STAMP}", f"'cloudflare.magic psk {STAMP}'",
                    f"cloudflare.magic tunnel_nyc_01 psk {STAMP}", STAMP, f"  {STAMP}\n"):
        assert _handoff.stamp_in_force(written) == STAMP, written
    for no_stamp in (_handoff.psk_stamp(STAMP, "pending"), "cloudflare.magic psk unverified", "", None,
                     "cloudflare.magic psk not-a-time", "2026-01-01", "2026-11-26T10:48Z", "2026-11-26T10:48:15",
                     "cloudflare.magic psk 2026-11-26T10:48Z", "2026-13-01T00:00:00Z", f"other.tool psk {STAMP}",
                     f"cloudflare.magic psk {STAMP} extra", "2026-11-26 10:48:15Z"):
        assert _handoff.stamp_in_force(no_stamp) == "", no_stamp


@pytest.mark.parametrize(("time", "state"), [("2026-01-01", "in_force"), ("", "pending"), (STAMP, "verified")])
def test_a_stamp_is_never_written_with_a_partial_time_or_an_unknown_state(time, state):
    with pytest.raises(HandoffValueError):
        _handoff.psk_stamp(time, state)


@pytest.mark.parametrize("platform", sorted(_handoff.KEY_RULES))
def test_a_good_answer_is_refused_nowhere(platform):
    assert _handoff.answer_refusals(answer(), platform) == []
    assert _handoff.answer_refusals(answer(), platform, ike_id="ipsec@t.5099ade1.ipsec.cloudflare.com") == []


@pytest.mark.parametrize(("platform", "key", "says"), [
    ("vyos", KEY[:20] + "'" + KEY[20:], "vyos's configuration cannot carry"),
    ("vyos", KEY[:20] + '"' + KEY[20:], "vyos's configuration cannot carry"),
    ("vyos", KEY[:20] + "\\" + KEY[20:], "vyos's configuration cannot carry"),
    ("vyos", KEY[:20] + " " + KEY[20:], "vyos's configuration cannot carry"),
    ("ios_xe", KEY[:20] + "?" + KEY[20:], "ios_xe's configuration cannot carry"),
    ("ios_xe", KEY[:20] + " " + KEY[20:], "ios_xe's configuration cannot carry"),
    ("ios_xe", KEY * 3, "longer than the 128"),
    ("fortios", "0x" + KEY, "hexadecimal"),
    ("fortios", KEY * 3, "longer than the 128"),
    ("fortios", KEY[:20] + "é" + KEY[20:], "fortios's configuration cannot carry"),
    ("junos", KEY[:20] + '"' + KEY[20:], "junos's configuration cannot carry"),
    ("junos", KEY[:20] + "\\" + KEY[20:], "junos's configuration cannot carry"),
    ("strongswan", KEY[:20] + "\n" + KEY[20:], "control character"),
    ("strongswan", KEY[:10], "shorter than 16"),
    ("strongswan", " " + KEY, "white space"),
    ("strongswan", 12345678901234567890, "must be a string"),
])
def test_a_key_the_platform_cannot_carry_is_refused_without_quoting_it(platform, key, says):
    rotated = answer()
    rotated["psk"] = key
    refusals = _handoff.answer_refusals(rotated, platform)
    assert len(refusals) == 1 and says in refusals[0] and "psk of Cloudflare's answer" in refusals[0], refusals
    assert KEY[:16] not in refusals[0] and KEY[-16:] not in refusals[0]


def test_every_platform_carries_cloudflares_own_key_form_and_the_strongswan_form_any_printable():
    for platform in _handoff.KEY_RULES:
        assert _handoff.check_key(KEY, platform) == KEY
    assert _handoff.check_key("a'b\"c\\d e?f0123456789", "strongswan")


@pytest.mark.parametrize(("fields", "field"), [
    ({"cloudflare_endpoint": "162.159.66.164\nusername pwn privilege 15"}, "cloudflare_endpoint"),
    ({"cloudflare_endpoint": "edge.example.com"}, "cloudflare_endpoint"),
    ({"cloudflare_endpoint": None}, "cloudflare_endpoint"),
    ({"customer_endpoint": "203.0.113.10' evil"}, "customer_endpoint"),
    ({"interface_address": "10.252.2.26/31'\nset x"}, "interface_address"),
    ({"interface_address": None}, "interface_address"),
    ({"name": "tunnel'\nset vpn"}, "name of Cloudflare's tunnel"),
    ({"custom_remote_identities": {"fqdn_id": "x.example.com'\nset vpn ipsec authentication psk EVIL"}},
     "custom_remote_identities.fqdn_id"),
])
def test_a_hostile_tunnel_field_is_refused_naming_it(fields, field):
    for platform in _handoff.KEY_RULES:
        refusals = _handoff.answer_refusals(answer(**fields), platform)
        assert len(refusals) == 1 and field in refusals[0], refusals


def test_a_hostile_ipsec_id_or_stamp_is_refused_naming_the_answers_field():
    rotated = answer()
    rotated["ipsec_id"] = "x.example.com\nusername pwn privilege 15 secret 0 pwned"
    rotated["psk_metadata"] = {"last_generated_on": "2026-11-26T10:48Z"}
    refusals = _handoff.answer_refusals(rotated, "ios_xe")
    assert [r.split(" is ")[0] for r in refusals] == ["psk_metadata.last_generated_on of Cloudflare's answer",
                                                      "ipsec_id of Cloudflare's answer"]


def test_ios_xe_takes_ipv4_peers_only_and_an_unknown_platform_is_refused():
    assert "IPv6" in _handoff.answer_refusals(answer(cloudflare_endpoint="2606:4700::1"), "ios_xe")[0]
    assert _handoff.answer_refusals(answer(cloudflare_endpoint="2606:4700::1"), "strongswan") == []
    assert "no key rules for the platform 'routeros'" in _handoff.answer_refusals(answer(), "routeros")[0]


def test_a_tunnel_read_before_the_rotation_is_checked_without_key_or_stamp():
    looked_up = {"tunnel": answer()["tunnel"]}
    assert _handoff.answer_refusals(looked_up, "vyos") == []
    refusals = _handoff.answer_refusals(looked_up, "vyos", identity_required=True)
    assert len(refusals) == 1 and refusals[0].startswith("no IKE identity") and "tunnel_psk_ike_id" in refusals[0]
    assert _handoff.answer_refusals(looked_up, "vyos", ike_id="router.example.net", identity_required=True) == []
    assert "last_generated_on" in _handoff.answer_refusals(looked_up, "vyos", stamp_required=True)[0]


@pytest.mark.parametrize("identity", ["router.example.net", "ipsec@t.5099ade1.ipsec.cloudflare.com", "192.0.2.1",
                                      "2001:db8::1", "12345_abc123def4567890abcdef1234567890",
                                      "nyc01.025ff6f753bd6d1b6e12dead5ff45e50.custom.ipsec.cloudflare.com"])
def test_identities_of_every_form_cloudflare_accepts_pass(identity):
    assert _handoff.name_refusals({"tunnel_psk_ike_id": identity}) == []


def test_name_inputs_with_control_characters_quotes_or_no_identity_form_are_refused():
    refusals = _handoff.name_refusals({
        "tunnel_psk_vyos_vti": "vti0\nset system login user x", "tunnel_psk_ios_xe_peer": 'CF"X',
        "tunnel_psk_tunnel_name": "tunnel_nyc_01", "tunnel_psk_ike_id": "router example net",
        "tunnel_psk_swanctl_options": ["--uri", "x"], "tunnel_psk_verify_timeout": 30, "tunnel_psk_ios_xe_keyring": ""})
    assert [r.split(" ")[0] for r in refusals] == ["tunnel_psk_ike_id", "tunnel_psk_ios_xe_peer",
                                                   "tunnel_psk_vyos_vti"]
