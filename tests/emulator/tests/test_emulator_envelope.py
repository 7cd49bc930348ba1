"""The envelope, headers, routing and identifier errors, as a client sees them over HTTPS."""

from __future__ import annotations

import re

RAY = re.compile(r"^[0-9a-f]{16}-SJC$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")


def test_list_answers_the_envelope_with_every_seeded_tunnel(writer, account_id, emu):
    answer = writer.get(f"/accounts/{account_id}/magic/ipsec_tunnels")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert RAY.match(answer.headers["cf-ray"])
    assert answer.headers["Server"] == "cloudflare"
    body = answer.json()
    assert set(body) == {"success", "errors", "messages", "result"}
    assert body["success"] is True and body["errors"] == [] and body["messages"] == []
    names = [t["name"] for t in body["result"]["ipsec_tunnels"]]
    assert names == [t["name"] for t in emu.seed["accounts"][0]["tunnels"]]


def test_tunnel_objects_look_like_cloudflares_and_never_hold_a_psk(writer, account_id, tunnel_ids):
    writer.generate(account_id, tunnel_ids["tunnel_nyc_01"])
    listed = writer.get(f"/accounts/{account_id}/magic/ipsec_tunnels").json()["result"]["ipsec_tunnels"]
    got = writer.get(f"/accounts/{account_id}/magic/ipsec_tunnels/{tunnel_ids['tunnel_nyc_01']}").json()
    assert set(got["result"]) == {"ipsec_tunnel"}
    for tunnel in listed + [got["result"]["ipsec_tunnel"]]:
        assert "psk" not in tunnel
        assert HEX32.match(tunnel["id"])
        assert len(tunnel["name"]) <= 15
        assert re.match(r"^10\.\d+\.\d+\.\d+/31$", tunnel["interface_address"])
        assert tunnel["cloudflare_endpoint"].startswith("162.159.")
        for field in ("created_on", "modified_on", "allow_null_cipher", "replay_protection", "health_check"):
            assert field in tunnel
        for seed_only in ("psk_age_days", "edge_psk"):
            assert seed_only not in tunnel


def test_seeded_psk_metadata_variety(writer, account_id):
    tunnels = {t["name"]: t for t in
               writer.get(f"/accounts/{account_id}/magic/ipsec_tunnels").json()["result"]["ipsec_tunnels"]}
    assert "psk_metadata" not in tunnels["tunnel_lon_01"]
    fqdn_id = tunnels["tunnel_sin_01"]["custom_remote_identities"]["fqdn_id"]
    assert fqdn_id == f"sin-edge-01.{account_id}.custom.ipsec.cloudflare.com", "not the documented fqdn_id form"
    stamp = tunnels["tunnel_fra_01"]["psk_metadata"]["last_generated_on"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$", stamp)
    from datetime import datetime, timezone

    age = datetime.now(timezone.utc) - datetime.fromisoformat(stamp[:26] + "+00:00")
    assert 199 <= age.days <= 200
    assert tunnels["tunnel_nyc_01b"]["name"].startswith(tunnels["tunnel_nyc_01"]["name"])


def test_unknown_path_is_7000(writer):
    for path in ("/nope", "/accounts", "/accounts/x/magic", "/accounts/025ff6f753bd6d1b6e12dead5ff45e50/magic/gre_tunnels"):
        answer = writer.get(path)
        assert answer.status_code == 404, path
        body = answer.json()
        assert body == {"success": False, "errors": [{"code": 7000, "message": "No route for that URI"}],
                        "messages": [], "result": None}


def test_malformed_identifiers_are_400_7003(writer, account_id, tunnel_ids):
    for path in (
        "/accounts/not-an-id/magic/ipsec_tunnels",
        f"/accounts/{account_id.upper()}/magic/ipsec_tunnels",
        f"/accounts/{account_id}/magic/ipsec_tunnels/{tunnel_ids['tunnel_nyc_01'][:-1]}",
        f"/accounts/{account_id}/magic/ipsec_tunnels/tunnel_nyc_01",
    ):
        answer = writer.get(path)
        assert answer.status_code == 400, path
        [error] = answer.json()["errors"]
        assert error["code"] == 7003
        assert error["message"] == f"Could not route to {path}, perhaps your object identifier is invalid?"
        assert answer.json()["result"] is None


def test_unknown_identifiers_are_404_7003(writer, account_id):
    unknown = "0" * 32
    for path in (f"/accounts/{unknown}/magic/ipsec_tunnels",
                 f"/accounts/{account_id}/magic/ipsec_tunnels/{unknown}",
                 f"/accounts/{account_id}/magic/ipsec_tunnels/{unknown}/psk_generate"):
        method = "POST" if path.endswith("psk_generate") else "GET"
        answer = writer.request(method, path, json={})
        assert answer.status_code == 404, path
        assert [e["code"] for e in answer.json()["errors"]] == [7003]
        assert "perhaps your object identifier is invalid?" in answer.json()["errors"][0]["message"]


def test_a_tunnel_of_another_account_is_not_found_under_this_one(writer, account_id, emu):
    other = emu.seed["accounts"][1]["tunnels"][0]["id"]
    answer = writer.get(f"/accounts/{account_id}/magic/ipsec_tunnels/{other}")
    assert answer.status_code == 404
    assert [e["code"] for e in answer.json()["errors"]] == [7003]


def test_wrong_method_is_405_with_allow(writer, account_id, tunnel_ids):
    tunnel = tunnel_ids["tunnel_nyc_01"]
    for method, path, allowed in (
        ("GET", f"/accounts/{account_id}/magic/ipsec_tunnels/{tunnel}/psk_generate", "POST"),
        ("DELETE", f"/accounts/{account_id}/magic/ipsec_tunnels/{tunnel}", "GET"),
        ("PUT", f"/accounts/{account_id}/magic/ipsec_tunnels", "GET"),
    ):
        answer = writer.request(method, path, json={})
        assert answer.status_code == 405
        assert answer.headers["Allow"] == allowed
        body = answer.json()
        # The code is the emulator's own (Cloudflare documents none): only the status and envelope are asserted.
        assert body["success"] is False and body["result"] is None and len(body["errors"]) == 1


def test_every_api_answer_carries_rate_limit_headers(writer, account_id):
    for path in (f"/accounts/{account_id}/magic/ipsec_tunnels", "/nope"):
        answer = writer.get(path)
        assert re.match(r'^"default";r=\d+;t=\d+$', answer.headers["Ratelimit"])
        assert answer.headers["Ratelimit-Policy"] == '"burst";q=1200;w=300'


def _hc_targets(client, account_id, tunnel_id, headers=None):
    """health_check.target of one tunnel from list and from get, with the given request headers."""
    base = f"/accounts/{account_id}/magic/ipsec_tunnels"
    listed = client.get(base, headers=headers).json()["result"]["ipsec_tunnels"]
    from_list = next(t for t in listed if t["id"] == tunnel_id)["health_check"]["target"]
    from_get = client.get(f"{base}/{tunnel_id}", headers=headers).json()["result"]["ipsec_tunnel"]
    return from_list, from_get["health_check"]["target"]


def test_health_check_target_is_text_by_default(writer, account_id, tunnel_ids):
    for headers in (None, {"x-magic-new-hc-target": "false"}, {"x-magic-new-hc-target": "yes"}):
        assert _hc_targets(writer, account_id, tunnel_ids["tunnel_nyc_01"], headers) == ("203.0.113.10",) * 2


def test_health_check_target_is_an_object_with_the_new_hc_target_header(writer, account_id, tunnel_ids):
    for value in ("true", "True"):
        targets = _hc_targets(writer, account_id, tunnel_ids["tunnel_nyc_01b"], {"X-Magic-New-Hc-Target": value})
        assert targets == ({"effective": "203.0.113.11", "saved": "203.0.113.11"},) * 2


def test_seeded_optional_fields_are_answered(writer, account_id, tunnel_ids):
    got = writer.get(f"/accounts/{account_id}/magic/ipsec_tunnels/{tunnel_ids['tunnel_nyc_01b']}")
    tunnel = got.json()["result"]["ipsec_tunnel"]
    assert tunnel["bgp"]["customer_asn"] == 64512 and tunnel["bgp"]["md5_key"]
    assert tunnel["bgp_status"]["state"] == "BGP_UP" and tunnel["bgp_status"]["tcp_established"] is True
    assert tunnel["interface_address6"].endswith("/127")
    assert tunnel["automatic_return_routing"] is False
