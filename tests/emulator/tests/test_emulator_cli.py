"""``python -m cf_emulator`` as its own process, driven through the control endpoints."""

from __future__ import annotations

import json
import signal

import pytest
from cf_emulator import Fault, default_seed
from cf_emulator.control import ControlClient, ControlError
from cf_emulator.process import spawn
from emulator_client import ApiClient, assert_same_secret


@pytest.fixture
def running(tmp_path):
    """``python -m cf_emulator`` with a rate limit; its stdout and stderr go to tmp_path/emulator.log."""
    with spawn(tmp_path / "state", "--ratelimit-quota", "50", "--ratelimit-window", "10",
               log_file=tmp_path / "emulator.log", timeout=20) as emulator:
        yield emulator


def _stop(emulator) -> tuple[int, str]:
    """SIGTERM; the exit status and everything the emulator printed (stdout and stderr)."""
    code = emulator.stop()
    return code, emulator.log_file.read_text()


def _only_startup_lines(printed: str) -> bool:
    """--quiet: the emulator says where it listens and that it stopped, and logs no request."""
    return all(line.startswith(("cf_emulator ", "CA certificate: ", "control: ")) for line in printed.splitlines())


def test_prints_base_url_and_ca_then_stops_on_sigterm(running, tmp_path):
    ready = json.loads(running.ready_file.read_text())
    assert ready["pid"] == running.pid
    assert ready["base_url"].startswith("https://127.0.0.1:") and ready["base_url"].endswith("/client/v4")
    assert ready["ca_file"] == str(tmp_path / "state" / "ca.pem")
    assert ready["control_url"] == ready["base_url"].replace("/client/v4", "/__emulator")
    code, out = _stop(running)
    assert code == 0
    assert f"cf_emulator listening on {ready['base_url']}\n" in out
    assert f"CA certificate: {ready['ca_file']}\n" in out
    assert not running.ready_file.exists()


def test_stops_on_sigint_too(running):
    running.process.send_signal(signal.SIGINT)
    assert running.process.wait(timeout=10) == 0


def test_control_client_mirrors_the_in_process_api(running):
    control = ControlClient.from_ready_file(str(running.ready_file))
    seed = default_seed()
    account = seed["accounts"][0]["id"]
    tunnel = seed["accounts"][0]["tunnels"][0]["id"]
    token = next(t["value"] for t in seed["tokens"] if t["name"] == "magic_wan_write")
    assert control.health()
    assert control.edge_psk(tunnel) is None
    assert len(control.tunnels()) == sum(len(a["tunnels"]) for a in seed["accounts"])
    with ApiClient(running, token=token) as client:
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
    code, shown = _stop(running)
    assert code == 0
    leaked = token in shown or answer.json()["result"]["psk"] in shown
    assert not leaked, "the emulator printed a secret"
    assert f"POST /client/v4/accounts/{account}/magic/ipsec_tunnels/{tunnel}/psk_generate 200" in shown


def test_control_requests_json_holds_no_secret(running):
    seed = default_seed()
    token = next(t["value"] for t in seed["tokens"] if t["name"] == "magic_wan_write")
    with ApiClient(running, token=token) as client:
        client.generate(seed["accounts"][0]["id"], seed["accounts"][0]["tunnels"][0]["id"])
        raw = client.session.get(running.control_url + "/requests").text
    leaked = token in raw
    assert not leaked, "control endpoint shows a token"
    assert json.loads(raw)[0]["body_length"] == 2


def test_plain_http_and_generated_fleet(tmp_path):
    with spawn(tmp_path / "state", "--no-tls", "--quiet", "--generate-tunnels", "25",
               log_file=tmp_path / "emulator.log", timeout=20) as emulator:
        assert emulator.base_url.startswith("http://") and emulator.ca_file is None
        assert len(ControlClient(emulator.control_url).tunnels()) == 6 + 25
    code, out = _stop(emulator)
    assert code == 0
    assert "CA certificate: none (plain HTTP)" in out
    assert _only_startup_lines(out)


@pytest.mark.parametrize("switch,holds_ipsec_id", [([], False), (["--psk-generate-ipsec-id", "no"], False),
                                                   (["--psk-generate-ipsec-id", "yes"], True)])
def test_psk_generate_ipsec_id_switch(tmp_path, switch, holds_ipsec_id):
    seed = default_seed()
    token = next(t["value"] for t in seed["tokens"] if t["name"] == "magic_wan_write")
    with spawn(tmp_path / "state", "--no-tls", "--quiet", *switch, timeout=20) as emulator:
        with ApiClient(emulator, token=token) as client:
            answer = client.generate(seed["accounts"][0]["id"], seed["accounts"][0]["tunnels"][0]["id"])
    assert answer.status_code == 200
    assert ("ipsec_id" in answer.json()["result"]) is holds_ipsec_id
