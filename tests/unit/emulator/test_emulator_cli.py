"""``python -m cf_emulator`` as its own process, driven through the control endpoints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from cf_emulator import Fault, default_seed
from cf_emulator.control import ControlClient, ControlError
from emulator_client import ApiClient, assert_same_secret

EMULATOR_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "emulator"))


class _Process:
    """Just enough of an Emulator for ApiClient: base_url and ca_file from the ready file."""

    def __init__(self, ready: dict):
        self.base_url = ready["base_url"]
        self.ca_file = ready["ca_file"]


@pytest.fixture
def running(tmp_path):
    ready_file = tmp_path / "ready.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "cf_emulator", "--state-dir", str(tmp_path / "state"),
         "--ready-file", str(ready_file), "--ratelimit-quota", "50", "--ratelimit-window", "10"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": EMULATOR_DIR})
    deadline = time.monotonic() + 20
    while not ready_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"emulator did not start: {out!r} {err!r}")
        time.sleep(0.05)
    ready = json.loads(ready_file.read_text())
    yield process, ready, ready_file
    if process.poll() is None:
        process.kill()
        process.communicate()


def _stop(process) -> tuple[int, str, str]:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=10)
    return process.returncode, out.decode(), err.decode()


def test_prints_base_url_and_ca_then_stops_on_sigterm(running, tmp_path):
    process, ready, ready_file = running
    assert ready["pid"] == process.pid
    assert ready["base_url"].startswith("https://127.0.0.1:") and ready["base_url"].endswith("/client/v4")
    assert ready["ca_file"] == str(tmp_path / "state" / "ca.pem")
    assert ready["control_url"] == ready["base_url"].replace("/client/v4", "/__emulator")
    code, out, _unused = _stop(process)
    assert code == 0
    assert f"cf_emulator listening on {ready['base_url']}\n" in out
    assert f"CA certificate: {ready['ca_file']}\n" in out
    assert not ready_file.exists()


def test_stops_on_sigint_too(running):
    process, _unused, _unused = running
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0


def test_control_client_mirrors_the_in_process_api(running):
    process, ready, ready_file = running
    control = ControlClient.from_ready_file(str(ready_file))
    seed = default_seed()
    account = seed["accounts"][0]["id"]
    tunnel = seed["accounts"][0]["tunnels"][0]["id"]
    token = next(t["value"] for t in seed["tokens"] if t["name"] == "magic_wan_write")
    assert control.health()
    assert control.edge_psk(tunnel) is None
    assert len(control.tunnels()) == sum(len(a["tunnels"]) for a in seed["accounts"])
    with ApiClient(_Process(ready), token=token) as client:
        answer = client.generate(account, tunnel)
        assert_same_secret(control.edge_psk(tunnel), answer.json()["result"]["psk"], "edge key")
        assert control.edge(tunnel)["last_generated_on"] == answer.json()["result"]["psk_metadata"]["last_generated_on"]
        assert control.tunnel(tunnel)["psk_metadata"] == answer.json()["result"]["psk_metadata"]

        control.push_fault(Fault("server_error_html", status=521, match_path="psk_generate"))
        control.push_fault({"kind": "rate_limited", "retry_after": 3})
        assert client.generate(account, tunnel).status_code == 521
        assert client.get("/nope").headers["Retry-After"] == "3"

        records = control.requests
        assert [(r.method, r.status, r.fault) for r in records] == [
            ("POST", 200, None), ("POST", 521, "server_error_html"), ("GET", 429, "rate_limited")]
        assert records[0].credential_name == "magic_wan_write"
        assert records[0].path == f"/client/v4/accounts/{account}/magic/ipsec_tunnels/{tunnel}/psk_generate"
        assert records[0].headers["Authorization"] == "[redacted]"
        control.clear_requests()
        assert control.requests == []

    with pytest.raises(ControlError):
        control.push_fault({"kind": "gremlins"})
    code, out, err = _stop(process)
    assert code == 0
    shown = out + err
    leaked = token in shown or answer.json()["result"]["psk"] in shown
    assert not leaked, "the emulator printed a secret"
    assert f"POST /client/v4/accounts/{account}/magic/ipsec_tunnels/{tunnel}/psk_generate 200" in err


def test_control_requests_json_holds_no_secret(running):
    process, ready, _unused = running
    seed = default_seed()
    token = next(t["value"] for t in seed["tokens"] if t["name"] == "magic_wan_write")
    with ApiClient(_Process(ready), token=token) as client:
        client.generate(seed["accounts"][0]["id"], seed["accounts"][0]["tunnels"][0]["id"])
        raw = client.session.get(ready["control_url"] + "/requests").text
    leaked = token in raw
    assert not leaked, "control endpoint shows a token"
    assert json.loads(raw)[0]["body_length"] == 2


def test_plain_http_and_generated_fleet(tmp_path):
    ready_file = tmp_path / "ready.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "cf_emulator", "--no-tls", "--quiet", "--generate-tunnels", "25",
         "--ready-file", str(ready_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": EMULATOR_DIR})
    try:
        deadline = time.monotonic() + 20
        while not ready_file.exists():
            assert process.poll() is None and time.monotonic() < deadline, "emulator did not start"
            time.sleep(0.05)
        ready = json.loads(ready_file.read_text())
        assert ready["base_url"].startswith("http://") and ready["ca_file"] is None
        control = ControlClient(ready["control_url"])
        assert len(control.tunnels()) == 6 + 25
    finally:
        code, out, err = _stop(process)
    assert code == 0
    assert "CA certificate: none (plain HTTP)" in out
    assert err == ""


@pytest.mark.parametrize("switch,holds_ipsec_id", [([], False), (["--psk-generate-ipsec-id", "no"], False),
                                                   (["--psk-generate-ipsec-id", "yes"], True)])
def test_psk_generate_ipsec_id_switch(tmp_path, switch, holds_ipsec_id):
    ready_file = tmp_path / "ready.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "cf_emulator", "--no-tls", "--quiet", "--ready-file", str(ready_file), *switch],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": EMULATOR_DIR})
    try:
        deadline = time.monotonic() + 20
        while not ready_file.exists():
            assert process.poll() is None and time.monotonic() < deadline, "emulator did not start"
            time.sleep(0.05)
        seed = default_seed()
        token = next(t["value"] for t in seed["tokens"] if t["name"] == "magic_wan_write")
        with ApiClient(_Process(json.loads(ready_file.read_text())), token=token) as client:
            answer = client.generate(seed["accounts"][0]["id"], seed["accounts"][0]["tunnels"][0]["id"])
        assert answer.status_code == 200
        assert ("ipsec_id" in answer.json()["result"]) is holds_ipsec_id
    finally:
        _stop(process)
