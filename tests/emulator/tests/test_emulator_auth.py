"""Authentication and permission errors, each as Cloudflare answers it."""

from __future__ import annotations

import pytest
from emulator_client import ApiClient, error_codes


def _list(client, account_id):
    return client.get(f"/accounts/{account_id}/magic/ipsec_tunnels")


def test_no_auth_headers_is_400_9106(emu, account_id):
    with ApiClient(emu) as client:
        answer = _list(client, account_id)
    assert answer.status_code == 400
    assert answer.json()["errors"] == [
        {"code": 9106, "message": "Missing X-Auth-Key, X-Auth-Email or Authorization headers"}]
    assert answer.json()["result"] is None and answer.json()["success"] is False


@pytest.mark.parametrize("header", ["Token abc", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bvW1chAD"])
def test_malformed_authorization_is_400_6003_with_6111(emu, account_id, header):
    with ApiClient(emu, headers={"Authorization": header}) as client:
        answer = _list(client, account_id)
    assert answer.status_code == 400
    [error] = answer.json()["errors"]
    assert error["code"] == 6003
    assert [e["code"] for e in error["error_chain"]] == [6111]


@pytest.mark.parametrize("token", ["short", "x" * 41, "a" * 39 + "!", "a" * 20 + "." + "b" * 19])
def test_token_of_the_wrong_shape_is_400_9109(emu, account_id, token):
    with ApiClient(emu, token=token) as client:
        answer = _list(client, account_id)
    assert answer.status_code == 400
    assert answer.json()["errors"] == [{"code": 9109, "message": "Invalid access token"}]


def test_unknown_well_formed_token_is_401_10000(emu, account_id):
    with ApiClient(emu, token="A" * 40) as client:
        answer = _list(client, account_id)
    assert answer.status_code == 401
    assert answer.json()["errors"] == [{"code": 10000, "message": "Authentication error"}]


def test_global_key_user_can_read_and_write(emu, account_id, tunnel_ids):
    user = emu.user("global_key")
    with ApiClient(emu, email=user["email"], key=user["api_key"]) as client:
        assert _list(client, account_id).status_code == 200
        assert client.generate(account_id, tunnel_ids["tunnel_lon_01"]).status_code == 200
    record = emu.requests[-1]
    assert record.credential_kind == "global_key" and record.credential_name == "global_key"


def test_wrong_email_or_key_is_401_10000(emu, account_id):
    user = emu.user("global_key")
    for email, key in ((user["email"], "0" * 37), ("someone@example.com", user["api_key"])):
        with ApiClient(emu, email=email, key=key) as client:
            answer = _list(client, account_id)
        assert answer.status_code == 401
        assert error_codes(answer) == [10000]


def test_malformed_global_key_or_email_is_400(emu, account_id):
    """Cloudflare documents no codes for these (the emulator's are its own): status and envelope only."""
    user = emu.user("global_key")
    cases = ({"X-Auth-Email": user["email"], "X-Auth-Key": "XYZ"},
             {"X-Auth-Email": user["email"]},
             {"X-Auth-Key": user["api_key"]},
             {"X-Auth-Email": "not-an-email", "X-Auth-Key": user["api_key"]})
    for headers in cases:
        with ApiClient(emu, headers=headers) as client:
            answer = _list(client, account_id)
        assert answer.status_code == 400
        body = answer.json()
        assert body["success"] is False and body["result"] is None and len(body["errors"]) == 1


def test_read_token_may_get_but_not_generate(emu, account_id, tunnel_ids):
    tunnel = tunnel_ids["tunnel_nyc_01"]
    with ApiClient(emu, token=emu.token("magic_wan_read")) as client:
        assert _list(client, account_id).status_code == 200
        assert client.get(f"/accounts/{account_id}/magic/ipsec_tunnels/{tunnel}").status_code == 200
        answer = client.generate(account_id, tunnel)
    assert answer.status_code == 403
    assert answer.json()["errors"] == [{"code": 10000, "message": "Authentication error"}]
    assert emu.edge_psk(tunnel) is None


def test_token_without_magic_permission_is_403_even_for_reads(emu, account_id):
    with ApiClient(emu, token=emu.token("dns_only")) as client:
        answer = _list(client, account_id)
    assert answer.status_code == 403
    assert error_codes(answer) == [10000]


def test_token_for_another_account_is_403(emu, account_id, tunnel_ids):
    with ApiClient(emu, token=emu.token("other_account_write")) as client:
        assert _list(client, account_id).status_code == 403
        assert client.generate(account_id, tunnel_ids["tunnel_nyc_01"]).status_code == 403
        other = emu.seed["accounts"][1]
        assert client.generate(other["id"], other["tunnels"][0]["id"]).status_code == 200


def test_bearer_token_wins_over_global_key_headers(emu, account_id):
    user = emu.user("global_key")
    with ApiClient(emu, token=emu.token("magic_wan_read"), email=user["email"], key=user["api_key"]) as client:
        assert _list(client, account_id).status_code == 200
    assert emu.requests[-1].credential_name == "magic_wan_read"


def test_records_name_the_credential_but_never_repr_a_secret(emu, writer, account_id):
    writer.get(f"/accounts/{account_id}/magic/ipsec_tunnels")
    [record] = emu.requests
    assert record.token_id == emu.seed["tokens"][0]["id"]
    assert record.credential_name == "magic_wan_write"
    assert record.headers["authorization"] == f"Bearer {emu.token('magic_wan_write')}"
    shown = repr(record) + repr(record.headers) + str(record.to_json())
    leaked = emu.token("magic_wan_write") in shown
    assert not leaked, "a token shows in a record's repr or JSON"
