"""Seeds, without a server: the default fixtures tests rely on, generated fleets, refusing broken seeds."""

from __future__ import annotations

import re

import pytest
from cf_emulator import NEVER_GENERATED_FORMS, Emulator, default_seed, seed_with_tunnels


def test_default_seed_has_what_tests_need():
    seed = default_seed()
    account = seed["accounts"][0]
    assert re.match(r"^[0-9a-f]{32}$", account["id"]) and account["tag"] and account["name"]
    tokens = {t["name"]: t for t in seed["tokens"]}
    assert tokens["magic_wan_write"]["permissions"] == ["Magic WAN Write"]
    assert tokens["magic_wan_read"]["permissions"] == ["Magic WAN Read"]
    for token in tokens.values():
        assert re.match(r"^[A-Za-z0-9_-]{40}$", token["value"])
    [user] = seed["users"]
    assert re.match(r"^[0-9a-f]{37}$", user["api_key"]) and "@" in user["email"]
    names = [t["name"] for t in account["tunnels"]]
    assert len(names) == 5 and len(set(names)) == 5 and all(len(n) <= 15 for n in names)


def test_default_seed_is_a_fresh_copy_each_time():
    first = default_seed()
    first["accounts"].clear()
    assert default_seed()["accounts"]


def test_generated_fleets_are_deterministic_and_top_level_key_works():
    seed = default_seed()
    seed["generate_tunnels"] = 3
    a = Emulator(seed=seed, tls=False).seed["accounts"][0]["tunnels"]
    b = Emulator(seed=seed_with_tunnels(3), tls=False).seed["accounts"][0]["tunnels"]
    assert [t["id"] for t in a] == [t["id"] for t in b]


@pytest.mark.parametrize("breakage", [
    lambda s: s["accounts"][0].update(id="ABC"),
    lambda s: s["accounts"][0]["tunnels"][0].update(name="a-name-longer-than-15"),
    lambda s: s["accounts"][0]["tunnels"][1].update(name=s["accounts"][0]["tunnels"][0]["name"]),
    lambda s: s["accounts"][0]["tunnels"][0].update(id="xyz"),
    lambda s: s["accounts"][0].pop("tag"),
    lambda s: s["tokens"][0].update(accounts=["f" * 32]),
])
def test_broken_seeds_are_refused(breakage):
    seed = default_seed()
    breakage(seed)
    with pytest.raises(ValueError):
        Emulator(seed=seed)


@pytest.mark.parametrize("fqdn_id", ["sin-edge-01.vpn.example.net", ".{account}.custom.ipsec.cloudflare.com",
                                     "x.{other}.custom.ipsec.cloudflare.com", "x.{account}.ipsec.cloudflare.com"])
def test_custom_fqdn_id_must_have_the_documented_form(fqdn_id):
    seed = default_seed()
    other = seed["accounts"][1]["id"]
    tunnel = seed["accounts"][0]["tunnels"][0]
    tunnel["custom_remote_identities"] = {"fqdn_id": fqdn_id.format(account=seed["accounts"][0]["id"], other=other)}
    with pytest.raises(ValueError, match="fqdn_id must be"):
        Emulator(seed=seed)


def test_seed_target_as_text_is_answered_in_both_forms():
    seed = default_seed()
    tunnel = seed["accounts"][0]["tunnels"][0]
    tunnel["health_check"]["target"] = "198.51.100.9"
    emulator = Emulator(seed=seed, tls=False)
    assert emulator.tunnel(tunnel["id"])["health_check"]["target"] == "198.51.100.9"
    object_form = emulator.tunnel(tunnel["id"], new_hc_target=True)["health_check"]["target"]
    assert object_form == {"effective": "198.51.100.9", "saved": "198.51.100.9"}


def test_bgp_md5_keys_are_listed_for_leak_tests():
    keys = Emulator(tls=False).bgp_md5_keys()
    assert len(keys) == 2 and all(keys)


def test_every_published_never_generated_form_is_stored_and_answered_as_seeded():
    seed = default_seed()
    tunnels = seed["accounts"][0]["tunnels"]
    for number, fields in enumerate(NEVER_GENERATED_FORMS.values()):
        tunnels.append(dict(tunnels[2], id=f"{number + 1:032x}", name=f"never_{number}", **fields))
    emulator = Emulator(seed=seed, tls=False)
    for number, fields in enumerate(NEVER_GENERATED_FORMS.values()):
        answered = emulator.tunnel(f"{number + 1:032x}")
        assert {k: v for k, v in answered.items() if k == "psk_metadata"} == fields


@pytest.mark.parametrize("metadata", ["2026-01-01T00:00:00Z", {"last_generated_on": 5}, []])
def test_a_psk_metadata_outside_the_schema_is_refused(metadata):
    seed = default_seed()
    seed["accounts"][0]["tunnels"][2]["psk_metadata"] = metadata
    with pytest.raises(ValueError, match="psk_metadata must be"):
        Emulator(seed=seed)
