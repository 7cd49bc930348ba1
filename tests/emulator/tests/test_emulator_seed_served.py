"""Seeds as a running emulator serves them: a fleet of 300, and a seeded edge key that is never shown."""

from __future__ import annotations

from cf_emulator import Emulator, default_seed, seed_with_tunnels
from emulator_client import ApiClient


def test_fleet_of_300_is_listed_and_usable():
    with Emulator(seed=seed_with_tunnels(300), tls=False) as emulator:
        fleet = [t for t in emulator.seed["accounts"][0]["tunnels"] if t["name"].startswith("fleet_")]
        assert len(fleet) == 300
        with ApiClient(emulator, token=emulator.token("magic_wan_write")) as client:
            listed = client.get(f"/accounts/{emulator.account_id}/magic/ipsec_tunnels").json()["result"]
            assert len(listed["ipsec_tunnels"]) == 305
            assert len({t["name"] for t in listed["ipsec_tunnels"]}) == 305
            assert len({t["interface_address"] for t in listed["ipsec_tunnels"]}) == 305
            assert client.generate(emulator.account_id, fleet[-1]["id"]).status_code == 200
        with_metadata = [t for t in listed["ipsec_tunnels"] if "psk_metadata" in t]
        assert 0 < len(with_metadata) < 305


def test_seeded_edge_psk_is_in_force_but_never_shown(tmp_path):
    seed = default_seed()
    tunnel = seed["accounts"][0]["tunnels"][1]
    tunnel["edge_psk"] = "seeded-key-value-0123456789"
    with Emulator(seed=seed, tls=False) as emulator:
        in_force = emulator.edge_psk(tunnel["id"]) == "seeded-key-value-0123456789"
        assert in_force, "seeded edge key not in force"
        with ApiClient(emulator, token=emulator.token("magic_wan_read")) as client:
            text = client.get(f"/accounts/{emulator.account_id}/magic/ipsec_tunnels").text
        assert "seeded-key-value" not in text
