"""Every scripted fault, seen from the client side and from the edge."""

from __future__ import annotations

import http.client
import json
import re
import socket
import time

import pytest
import requests
from cf_emulator import Fault
from emulator_client import assert_same_secret, error_codes


@pytest.fixture
def gen_path(account_id, tunnel_ids):
    return f"/accounts/{account_id}/magic/ipsec_tunnels/{tunnel_ids['tunnel_nyc_01']}/psk_generate"


@pytest.fixture
def tunnel(tunnel_ids):
    return tunnel_ids["tunnel_nyc_01"]


def test_rate_limited_fault(emu, writer, gen_path, tunnel):
    emu.push_fault(Fault("rate_limited", retry_after=7))
    answer = writer.post(gen_path, json={})
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    assert answer.json()["errors"] == [
        {"code": 971, "message": "Please wait and consider throttling your request speed"}]
    assert emu.edge_psk(tunnel) is None
    assert writer.post(gen_path, json={}).status_code == 200  # fired once
    assert [r.fault for r in emu.requests] == ["rate_limited", None]


def test_rate_limited_fault_without_retry_after_sends_no_header(emu, writer, gen_path):
    emu.push_fault(Fault("rate_limited"))
    answer = writer.post(gen_path, json={})
    assert answer.status_code == 429 and "Retry-After" not in answer.headers


def test_server_error_json(emu, writer, gen_path, tunnel):
    emu.push_fault(Fault("server_error_json", status=503))
    answer = writer.post(gen_path, json={})
    assert answer.status_code == 503
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json()["success"] is False and len(error_codes(answer)) == 1  # the code is the emulator's own
    assert emu.edge_psk(tunnel) is None


@pytest.mark.parametrize("status,title", [(502, "Bad gateway"), (520, "Web server is returning an unknown error"),
                                          (521, "Web server is down"), (522, "Connection timed out"),
                                          (523, "Origin is unreachable"), (524, "A timeout occurred"),
                                          (525, "SSL handshake failed"), (526, "Invalid SSL certificate")])
def test_server_error_html(emu, writer, gen_path, tunnel, status, title):
    emu.push_fault(Fault("server_error_html", status=status))
    answer = writer.post(gen_path, json={})
    assert answer.status_code == status
    assert answer.headers["Content-Type"].startswith("text/html")
    assert f"<title>api.cloudflare.com | {status}: {title}</title>" in answer.text
    ray = answer.headers["cf-ray"].split("-")[0]
    assert re.search(rf"Ray ID: <strong[^>]*>{ray}</strong>", answer.text)
    assert emu.edge_psk(tunnel) is None


def test_server_error_html_defaults_to_502(emu, writer, gen_path):
    emu.push_fault(Fault("server_error_html"))
    assert writer.post(gen_path, json={}).status_code == 502


def test_reset_before_persists_nothing_and_resets_the_connection(plain_emu, account_id, tunnel_ids):
    tunnel = tunnel_ids["tunnel_nyc_01"]
    plain_emu.push_fault(Fault("reset_before"))
    status, _unused = _raw_post(plain_emu, account_id, tunnel)
    assert status == "reset"
    assert plain_emu.edge_psk(tunnel) is None
    assert plain_emu.requests[-1].status is None and plain_emu.requests[-1].fault == "reset_before"


def test_reset_after_persists_the_key_but_loses_the_answer(plain_emu, account_id, tunnel_ids):
    tunnel = tunnel_ids["tunnel_nyc_01"]
    plain_emu.push_fault(Fault("reset_after"))
    status, _unused = _raw_post(plain_emu, account_id, tunnel)
    assert status == "reset"
    assert plain_emu.edge_psk(tunnel) is not None
    assert "psk_metadata" in plain_emu.tunnel(tunnel)
    assert plain_emu.requests[-1].status is None


def test_reset_over_tls_is_a_connection_error(emu, writer, gen_path, tunnel):
    emu.push_fault(Fault("reset_after"))
    with pytest.raises(requests.ConnectionError):
        writer.post(gen_path, json={})
    assert emu.edge_psk(tunnel) is not None


def test_delay_answers_late_and_persists_after_the_sleep(emu, writer, gen_path, tunnel):
    emu.push_fault(Fault("delay", delay=0.6))
    started = time.monotonic()
    answer = writer.post(gen_path, json={})
    assert time.monotonic() - started >= 0.6
    assert_same_secret(emu.edge_psk(tunnel), answer.json()["result"]["psk"], "edge key")


def test_delay_persists_even_when_the_client_gave_up(emu, writer, gen_path, tunnel):
    emu.push_fault(Fault("delay", delay=0.8))
    with pytest.raises(requests.Timeout):
        writer.post(gen_path, json={}, timeout=0.2)
    assert emu.edge_psk(tunnel) is None  # not yet: the server is still "working"
    _wait_for(lambda: emu.edge_psk(tunnel) is not None)


def test_delay_after_persist_changes_the_edge_before_answering(emu, writer, gen_path, tunnel):
    emu.push_fault(Fault("delay_after_persist", delay=1.0))
    with pytest.raises(requests.Timeout):
        writer.post(gen_path, json={}, timeout=0.4)
    assert emu.edge_psk(tunnel) is not None


def test_truncated_json_performs_the_operation_and_cuts_the_body(plain_emu, account_id, tunnel_ids):
    tunnel = tunnel_ids["tunnel_nyc_01"]
    plain_emu.push_fault(Fault("truncated_json"))
    status, body = _raw_post(plain_emu, account_id, tunnel)
    assert status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    assert body.startswith(b'{"success":true')
    assert plain_emu.edge_psk(tunnel) is not None


def test_success_false_is_a_200_failure_and_persists_nothing(emu, writer, gen_path, tunnel):
    emu.push_fault(Fault("success_false"))
    answer = writer.post(gen_path, json={})
    assert answer.status_code == 200
    body = answer.json()
    assert body["success"] is False and body["result"] is None and len(error_codes(answer)) == 1
    assert emu.edge_psk(tunnel) is None


def test_html_200_persists_nothing(emu, writer, gen_path, tunnel):
    emu.push_fault(Fault("html_200"))
    answer = writer.post(gen_path, json={})
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/html")
    assert answer.text.lstrip().startswith("<!DOCTYPE html>")
    assert emu.edge_psk(tunnel) is None


def test_force_psk_sets_the_next_generated_key(emu, writer, gen_path, tunnel):
    chosen = "forced-" + emu.token("magic_wan_write")[:10]
    emu.push_fault(Fault("force_psk", psk=chosen))
    writer.get(gen_path.rsplit("/", 1)[0])  # a GET does not consume it
    answer = writer.post(gen_path, json={})
    assert_same_secret(answer.json()["result"]["psk"], chosen, "answered key")
    assert_same_secret(emu.edge_psk(tunnel), chosen, "edge key")
    assert emu.requests[-1].fault == "force_psk" and emu.requests[-2].fault is None


def test_hostile_answer_spoils_the_answered_fields_only(emu, writer, account_id, gen_path, tunnel):
    hostile = {"cloudflare_endpoint": "162.159.66.164\nusername pwn", "custom_remote_identities.fqdn_id": "x'y"}
    emu.push_fault(Fault("hostile_answer", times=2, method="GET", fields=hostile))
    listed = writer.get(f"/accounts/{account_id}/magic/ipsec_tunnels").json()["result"]["ipsec_tunnels"]
    assert {t["cloudflare_endpoint"] for t in listed} == {hostile["cloudflare_endpoint"]}
    got = writer.get(gen_path.rsplit("/", 1)[0]).json()["result"]["ipsec_tunnel"]
    assert got["custom_remote_identities"] == {"fqdn_id": "x'y"}
    assert emu.tunnel(tunnel)["cloudflare_endpoint"] == "162.159.66.164", "the emulator's own tunnel changed"
    emu.push_fault(Fault("hostile_answer", match_path="psk_generate", fields={"psk_metadata.last_generated_on": "2026"}))
    answer = writer.post(gen_path, json={}).json()["result"]
    assert answer["psk_metadata"] == {"last_generated_on": "2026"} and emu.edge_psk(tunnel) is not None
    assert emu.tunnel(tunnel)["psk_metadata"]["last_generated_on"] != "2026"
    with pytest.raises(ValueError, match="hostile_answer needs fields"):
        Fault("hostile_answer")


def test_faults_match_by_path_and_method_and_fire_times_times(emu, writer, account_id, gen_path):
    listing = f"/accounts/{account_id}/magic/ipsec_tunnels"
    emu.push_fault(Fault("server_error_json", times=2, match_path="psk_generate", method="POST"))
    assert writer.get(listing).status_code == 200
    assert writer.post(gen_path, json={}).status_code == 500
    assert writer.post(gen_path, json={}).status_code == 500
    assert writer.post(gen_path, json={}).status_code == 200
    emu.push_fault(Fault("server_error_json", match_path=r"/ipsec_tunnels$"))
    assert writer.post(gen_path, json={}).status_code == 200
    assert writer.get(listing).status_code == 500


def test_faults_fire_in_the_order_pushed(emu, writer, account_id):
    listing = f"/accounts/{account_id}/magic/ipsec_tunnels"
    emu.push_fault(Fault("server_error_json", status=500))
    emu.push_fault(Fault("server_error_html", status=520))
    assert [writer.get(listing).status_code for _unused in range(3)] == [500, 520, 200]


def test_unknown_fault_kind_is_refused():
    with pytest.raises(ValueError):
        Fault("gremlins")


def _raw_post(emu, account_id, tunnel):
    """POST psk_generate over plain HTTP; ("reset", b"") for a RST, ("closed", b"") for a clean close."""
    connection = http.client.HTTPConnection(emu.host, emu.port, timeout=5)
    try:
        connection.request("POST", f"/client/v4/accounts/{account_id}/magic/ipsec_tunnels/{tunnel}/psk_generate",
                           body=b"{}", headers={"Authorization": f"Bearer {emu.token('magic_wan_write')}",
                                                "Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    except http.client.RemoteDisconnected:  # a subclass of ConnectionResetError: a clean close, not a RST
        return "closed", b""
    except ConnectionResetError:
        return "reset", b""
    except socket.error:
        return "closed", b""
    finally:
        connection.close()


def _wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_a_forced_psk_never_shows_in_a_fault_repr_or_the_queue(emu):
    fault = Fault("force_psk", psk="secret-looking-value")
    emu.push_fault(fault)
    from cf_emulator.control import ControlClient

    queued = ControlClient(emu.control_url, emu.ca_file).pending_faults()
    shown = repr(fault) + repr(emu.pending_faults()) + repr(queued)
    assert "secret-looking-value" not in shown
    assert queued[0]["kind"] == "force_psk" and queued[0]["psk"] == "[redacted]"


def test_edge_psk_of_an_unknown_tunnel_is_a_key_error(emu):
    with pytest.raises(KeyError):
        emu.edge_psk("0" * 32)


def test_echo_request_quotes_the_credentials_and_body_and_persists_nothing(emu, writer, gen_path, tunnel):
    emu.push_fault(Fault("echo_request", match_path="psk_generate"))
    token = emu.token("magic_wan_write")
    answer = writer.post(gen_path, json={"marker": "body-marker-7"})
    assert answer.status_code == 400 and answer.json()["success"] is False and answer.json()["result"] is None
    for quoted in (answer.json()["errors"][0]["message"], answer.json()["messages"][0]["message"]):
        assert f"Bearer {token}" in quoted and "body-marker-7" in quoted
    assert emu.edge_psk(tunnel) is None
    assert [r.fault for r in emu.requests] == ["echo_request"]


def test_echo_request_quotes_the_global_api_key(emu, account_id):
    from emulator_client import ApiClient

    user = emu.user("global_key")
    emu.push_fault(Fault("echo_request"))
    with ApiClient(emu, email=user["email"], key=user["api_key"]) as client:
        answer = client.get(f"/accounts/{account_id}/magic/ipsec_tunnels")
    assert answer.status_code == 400 and user["api_key"] in answer.json()["errors"][0]["message"]
