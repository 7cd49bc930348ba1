"""The FortiOS REST API simulator answers over real HTTPS in the shapes fortinet.fortios's httpapi plugin and
modules read, and refuses what FortiOS refuses."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

import pytest

from devices.fortios import FortiGate, FortiGateServer

TOKEN = "simulator-token-4Jd8Qw"
KEY = "a-key-the-device-holds-9Xc2"


@pytest.fixture
def fortigate(tmp_path):
    device = FortiGate(TOKEN, password="admin-secret", edge_key=lambda gw: KEY if gw == "162.159.66.164" else None)
    with FortiGateServer(device, tmp_path) as server:
        context = ssl.create_default_context(cafile=server.ca_file)

        def call(method, path, body=None, token=TOKEN):
            request = urllib.request.Request(f"https://127.0.0.1:{server.port}{path}", method=method,
                                             data=json.dumps(body).encode() if body is not None else None,
                                             headers={"Authorization": f"Bearer {token}"} if token else {})
            try:
                with urllib.request.urlopen(request, context=context, timeout=10) as answer:
                    return answer.status, json.loads(answer.read())
            except urllib.error.HTTPError as error:
                return error.code, json.loads(error.read())
        yield device, call


def test_login_status_and_refusals(fortigate):
    device, call = fortigate
    status, body = call("GET", "/api/v2/monitor/system/status")
    assert (status, body["status"], body["version"]) == (200, "success", "v7.0.12")
    assert call("GET", "/api/v2/monitor/system/status", token="wrong")[0] == 401
    assert call("GET", "/api/v2/cmdb/vpn.ipsec/phase1-interface?vdom=branch7")[1]["http_status"] == 403
    status, body = call("POST", "/api/v2/authentication", {"username": "admin", "secretkey": "admin-secret"},
                        token=None)
    assert status == 200 and body["status_message"] == "LOGIN_SUCCESS"
    assert call("GET", "/api/v2/monitor/system/status", token=body["session_key"])[0] == 200
    assert call("POST", "/api/v2/authentication", {"username": "admin", "secretkey": "no"}, token=None)[0] == 401


def test_cmdb_stores_validates_and_never_shows_the_key(fortigate):
    device, call = fortigate
    phase1 = "/api/v2/cmdb/vpn.ipsec/phase1-interface"
    assert call("GET", f"{phase1}/cf1?vdom=root")[1]["error"] == -3
    status, body = call("POST", f"{phase1}?vdom=root", {"name": "cf1", "ike-version": "2", "psksecret": KEY,
                                                        "remote-gw": "162.159.66.164", "comments": "c"})
    assert (status, body["status"], body["revision_changed"]) == (200, "success", True)
    assert device.interface("cf1")["type"] == "tunnel", "a phase1-interface brings its tunnel interface"
    shown = call("GET", f"{phase1}/cf1?vdom=root")[1]["results"][0]
    assert shown["psksecret"].startswith("ENC ") and KEY not in json.dumps(shown)
    assert call("GET", f"{phase1}/cf1?vdom=root&format=name|comments")[1]["results"] == [
        {"name": "cf1", "comments": "c"}]
    status, body = call("PUT", f"{phase1}/cf1?vdom=root", {"comments": "d", "no-such-field": "x"})
    assert (status, body["error"]) == (500, -651) and "no-such-field" in body["cli_error"]
    assert device.phase1("cf1")["comments"] == "c", "a refused request changes nothing"
    assert call("PUT", f"{phase1}/cf1?vdom=root", {"comments": "x" * 256})[0] == 500
    assert call("PUT", f"{phase1}/cf1?vdom=root", {"comments": "c"})[1]["revision_changed"] is False
    status, body = call("PUT", f"{phase1}/cf1?vdom=root", {"psksecret": "short"})
    assert status == 500 and "short" not in json.dumps(body)


def test_the_sa_comes_up_only_on_the_far_ends_key_and_is_renegotiated_by_tunnel_down_up(fortigate):
    device, call = fortigate
    device.load("vpn.ipsec/phase1-interface", {"name": "cf1", "ike-version": "2", "remote-gw": "162.159.66.164",
                                               "psksecret": KEY})
    device.load("vpn.ipsec/phase2-interface", {"name": "cf1", "phase1name": "cf1", "auto-negotiate": "enable"})
    tunnel = call("GET", "/api/v2/monitor/vpn/ipsec?vdom=root&tunnel=cf1")[1]["results"][0]
    assert (tunnel["rgwy"], [p["status"] for p in tunnel["proxyid"]]) == ("162.159.66.164", ["up"])
    call("PUT", "/api/v2/cmdb/vpn.ipsec/phase1-interface/cf1?vdom=root", {"psksecret": "another-key-entirely"})
    assert device.established["cf1"] == KEY, "an SA that is up stays up until it renegotiates"
    for step in ("tunnel_down", "tunnel_up"):
        assert call("POST", f"/api/v2/monitor/vpn/ipsec/{step}?vdom=root", {"p1name": "cf1", "p2name": "cf1"})[0] == 200
    tunnel = call("GET", "/api/v2/monitor/vpn/ipsec?vdom=root")[1]["results"][0]
    assert [p["status"] for p in tunnel["proxyid"]] == ["down"]


def test_a_refusing_device_closes_connections(fortigate, tmp_path):
    device, call = fortigate
    with FortiGateServer(device, tmp_path / "other", refuse=True) as server:
        with pytest.raises((urllib.error.URLError, ConnectionError, ssl.SSLError, OSError)):
            urllib.request.urlopen(f"https://127.0.0.1:{server.port}/", timeout=5,
                                   context=ssl.create_default_context(cafile=server.ca_file))
