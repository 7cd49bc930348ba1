"""psk_generate: the key in the answer is the key at the edge; validate_only changes nothing."""

from __future__ import annotations

import re
import threading

import pytest
from cf_emulator import Emulator, default_seed
from emulator_client import ApiClient, assert_different_secret, assert_same_secret

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
PSK = re.compile(r"^[A-Za-z0-9_-]{43}$")


def test_generate_puts_the_answered_key_in_force(emu, writer, account_id, tunnel_ids):
    tunnel = tunnel_ids["tunnel_lon_01"]
    assert emu.edge_psk(tunnel) is None
    answer = writer.generate(account_id, tunnel)
    assert answer.status_code == 200
    body = answer.json()
    assert body["success"] is True and body["errors"] == []
    result = body["result"]
    assert set(result) == {"ipsec_tunnel_id", "psk", "psk_metadata"}, "not the published psk_generate schema"
    assert result["ipsec_tunnel_id"] == tunnel
    assert PSK.match(result["psk"]) is not None, "psk is not 43 URL-safe base64 characters"
    assert_same_secret(emu.edge_psk(tunnel), result["psk"], "edge key vs answered key")
    assert STAMP.match(result["psk_metadata"]["last_generated_on"])
    stored = emu.tunnel(tunnel)
    assert stored["psk_metadata"] == result["psk_metadata"]
    assert stored["modified_on"] == result["psk_metadata"]["last_generated_on"]
    assert "psk" not in stored


def test_each_generate_rotates_the_key(emu, writer, account_id, tunnel_ids):
    tunnel = tunnel_ids["tunnel_fra_01"]
    first = writer.generate(account_id, tunnel).json()["result"]
    second = writer.generate(account_id, tunnel).json()["result"]
    assert_different_secret(first["psk"], second["psk"], "consecutive keys")
    assert_same_secret(emu.edge_psk(tunnel), second["psk"], "edge key vs last answer")
    assert second["psk_metadata"]["last_generated_on"] > first["psk_metadata"]["last_generated_on"]


def _generate_with_ipsec_id(tmp_path, tunnel_name: str, **switch) -> tuple[dict, Emulator]:
    """One psk_generate answer from an emulator started with the ipsec_id switch given as ``switch``."""
    seed = default_seed()
    if "seed_key" in switch:
        seed["psk_generate_ipsec_id"] = switch.pop("seed_key")
    with Emulator(seed=seed, tls=False, **switch) as emulator:
        tunnel = next(t["id"] for t in emulator.seed["accounts"][0]["tunnels"] if t["name"] == tunnel_name)
        with ApiClient(emulator, token=emulator.token("magic_wan_write")) as client:
            return client.generate(emulator.account_id, tunnel).json()["result"], emulator


@pytest.mark.parametrize("switch", [{"psk_generate_ipsec_id": True}, {"seed_key": True}])
def test_ipsec_id_switch_adds_it_with_the_account_tag_not_the_account_id(tmp_path, switch):
    result, emulator = _generate_with_ipsec_id(tmp_path, "tunnel_nyc_01", **switch)
    tunnel, tag = result["ipsec_tunnel_id"], emulator.seed["accounts"][0]["tag"]
    assert result["ipsec_id"] == f"{tunnel}.{tag}.ipsec.cloudflare.com" == emulator.ipsec_id(tunnel)
    assert emulator.account_id not in result["ipsec_id"]


def test_ipsec_id_switch_gives_the_custom_fqdn_when_set(tmp_path):
    result, emulator = _generate_with_ipsec_id(tmp_path, "tunnel_sin_01", psk_generate_ipsec_id=True)
    expected = f"sin-edge-01.{emulator.account_id}.custom.ipsec.cloudflare.com"
    assert result["ipsec_id"] == expected == emulator.ipsec_id(result["ipsec_tunnel_id"])


@pytest.mark.parametrize("switch", [{}, {"psk_generate_ipsec_id": False}, {"seed_key": False},
                                    {"seed_key": True, "psk_generate_ipsec_id": False}])
def test_without_the_switch_the_answer_has_no_ipsec_id(tmp_path, switch):
    result, _emulator = _generate_with_ipsec_id(tmp_path, "tunnel_sin_01", **switch)
    assert "ipsec_id" not in result


def test_validate_only_persists_nothing_and_answers_a_decoy(emu, writer, account_id, tunnel_ids):
    tunnel = tunnel_ids["tunnel_nyc_01"]
    in_force = writer.generate(account_id, tunnel).json()["result"]["psk"]
    before = emu.tunnel(tunnel)
    answer = writer.generate(account_id, tunnel, validate_only=True)
    assert answer.status_code == 200 and answer.json()["success"] is True
    decoy = answer.json()["result"]["psk"]
    assert_different_secret(decoy, in_force, "validate_only answer")
    assert_same_secret(emu.edge_psk(tunnel), in_force, "edge key after validate_only")
    assert emu.tunnel(tunnel) == before
    assert emu.requests[-1].query == {"validate_only": "true"}


def test_validate_only_on_a_never_keyed_tunnel_leaves_it_unkeyed(emu, writer, account_id, tunnel_ids):
    tunnel = tunnel_ids["tunnel_lon_01"]
    assert writer.generate(account_id, tunnel, validate_only=True).status_code == 200
    assert emu.edge_psk(tunnel) is None
    assert "psk_metadata" not in emu.tunnel(tunnel)


def test_validate_only_still_checks_auth_and_identifiers(emu, account_id, tunnel_ids):
    with ApiClient(emu, token=emu.token("magic_wan_read")) as reader:
        assert reader.generate(account_id, tunnel_ids["tunnel_nyc_01"], validate_only=True).status_code == 403
    with ApiClient(emu, token=emu.token("magic_wan_write")) as writer:
        assert writer.generate(account_id, "f" * 32, validate_only=True).status_code == 404
        assert writer.generate(account_id, "nope", validate_only=True).status_code == 400


def test_validate_only_false_generates(emu, writer, account_id, tunnel_ids):
    tunnel = tunnel_ids["tunnel_lon_01"]
    answer = writer.post(f"/accounts/{account_id}/magic/ipsec_tunnels/{tunnel}/psk_generate",
                         params={"validate_only": "false"}, json={})
    assert_same_secret(emu.edge_psk(tunnel), answer.json()["result"]["psk"], "edge key")


def test_validate_only_that_is_not_a_boolean_is_rejected(emu, writer, account_id, tunnel_ids):
    tunnel = tunnel_ids["tunnel_lon_01"]
    answer = writer.post(f"/accounts/{account_id}/magic/ipsec_tunnels/{tunnel}/psk_generate",
                         params={"validate_only": "yes please"}, json={})
    assert answer.status_code == 400 and answer.json()["success"] is False
    assert emu.edge_psk(tunnel) is None


@pytest.mark.parametrize("kwargs", [{}, {"data": b""}, {"data": b"\r\n"}, {"json": {}},
                                    {"data": b"{}", "headers": {"Content-Type": "application/json"}}])
def test_no_body_or_an_empty_object_generates(emu, writer, account_id, tunnel_ids, kwargs):
    tunnel = tunnel_ids["tunnel_lon_01"]
    answer = writer.post(f"/accounts/{account_id}/magic/ipsec_tunnels/{tunnel}/psk_generate", **kwargs)
    assert answer.status_code == 200 and answer.json()["success"] is True
    assert_same_secret(emu.edge_psk(tunnel), answer.json()["result"]["psk"], "edge key")


def test_a_body_that_is_not_a_json_object_is_400(emu, writer, account_id, tunnel_ids):
    """Cloudflare documents no answer for these; refusing them is the emulator's choice (docs/emulator.md)."""
    tunnel = tunnel_ids["tunnel_lon_01"]
    path = f"/accounts/{account_id}/magic/ipsec_tunnels/{tunnel}/psk_generate"
    for kwargs in ({"data": b"not json"}, {"data": b"[]"}, {"data": b'"x"'}, {"data": b"null"}, {"data": b"\xff\xfe"}):
        answer = writer.post(path, **kwargs)
        assert answer.status_code == 400, kwargs
        body = answer.json()
        assert body["success"] is False and body["result"] is None and len(body["errors"]) == 1
        assert isinstance(body["errors"][0]["code"], int) and body["errors"][0]["message"]
    assert emu.edge_psk(tunnel) is None


def test_body_with_fields_is_accepted(emu, writer, account_id, tunnel_ids):
    assert writer.generate(account_id, tunnel_ids["tunnel_lon_01"], json={"anything": 1}).status_code == 200


def test_twenty_concurrent_clients_each_get_a_distinct_key(emu, account_id):
    tunnels = emu.seed["accounts"][0]["tunnels"]
    results: list[tuple[str, str]] = []
    failures: list[int] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        tunnel = tunnels[index % len(tunnels)]["id"]
        with ApiClient(emu, token=emu.token("magic_wan_write")) as client:
            for _unused in range(5):
                answer = client.generate(account_id, tunnel)
                with lock:
                    if answer.status_code == 200:
                        results.append((tunnel, answer.json()["result"]["psk"]))
                    else:
                        failures.append(answer.status_code)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(results) == 100
    assert len({psk for _unused, psk in results}) == 100
    for tunnel in {t for t, _unused in results}:
        answered = {psk for t, psk in results if t == tunnel}
        in_answers = emu.edge_psk(tunnel) in answered
        assert in_answers, "edge key is not one of the answered keys"
    assert len(emu.requests) == 100
