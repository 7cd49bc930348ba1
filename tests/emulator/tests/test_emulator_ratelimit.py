"""The per-credential rate limit, with time compressed to fractions of a second."""

from __future__ import annotations

import re
import time

import pytest
from cf_emulator import Emulator
from cf_emulator.control import ControlClient
from emulator_client import ApiClient, error_codes


@pytest.fixture
def limited():
    with Emulator(tls=False, ratelimit_quota=5, ratelimit_window=5.0, ratelimit_block=1.5) as emulator:
        yield emulator


def _remaining(answer) -> int:
    return int(re.match(r'^"default";r=(\d+);t=(\d+)$', answer.headers["Ratelimit"]).group(1))


def _reset(answer) -> int:
    return int(re.match(r'^"default";r=(\d+);t=(\d+)$', answer.headers["Ratelimit"]).group(2))


def test_headers_count_down_then_429_971_with_retry_after_rounded_up(limited):
    account = limited.account_id
    with ApiClient(limited, token=limited.token("magic_wan_write")) as client:
        answers = [client.get(f"/accounts/{account}/magic/ipsec_tunnels") for _unused in range(5)]
        assert [a.status_code for a in answers] == [200] * 5
        assert [_remaining(a) for a in answers] == [4, 3, 2, 1, 0]
        assert all(0 < _reset(a) <= 5 for a in answers)
        assert answers[0].headers["Ratelimit-Policy"] == '"burst";q=5;w=5'
        blocked = client.get(f"/accounts/{account}/magic/ipsec_tunnels")
    assert blocked.status_code == 429
    assert blocked.headers["Retry-After"] == "2"  # 1.5 s rounded up
    assert blocked.json()["errors"] == [
        {"code": 971, "message": "Please wait and consider throttling your request speed"}]
    assert blocked.json()["result"] is None
    assert _remaining(blocked) == 0


def test_block_covers_every_call_of_that_credential_then_lifts(limited):
    account = limited.account_id
    tunnel = limited.seed["accounts"][0]["tunnels"][0]["id"]
    with ApiClient(limited, token=limited.token("magic_wan_write")) as client:
        for _unused in range(6):
            client.get(f"/accounts/{account}/magic/ipsec_tunnels")
        generate = client.generate(account, tunnel)
        assert generate.status_code == 429
        assert limited.edge_psk(tunnel) is None  # a blocked call does nothing
        assert client.get("/nope").status_code == 429
        time.sleep(1.6)
        recovered = client.get(f"/accounts/{account}/magic/ipsec_tunnels")
    assert recovered.status_code == 200
    assert _remaining(recovered) == 4


def test_limits_are_per_credential(limited):
    account = limited.account_id
    with ApiClient(limited, token=limited.token("magic_wan_write")) as busy, \
            ApiClient(limited, token=limited.token("magic_wan_read")) as quiet:
        for _unused in range(6):
            busy.get(f"/accounts/{account}/magic/ipsec_tunnels")
        assert busy.get(f"/accounts/{account}/magic/ipsec_tunnels").status_code == 429
        answer = quiet.get(f"/accounts/{account}/magic/ipsec_tunnels")
    assert answer.status_code == 200 and _remaining(answer) == 4


def test_the_window_resets_the_count():
    with Emulator(tls=False, ratelimit_quota=3, ratelimit_window=1.0, ratelimit_block=5) as emulator:
        with ApiClient(emulator, token=emulator.token("magic_wan_write")) as client:
            path = f"/accounts/{emulator.account_id}/magic/ipsec_tunnels"
            assert [_remaining(client.get(path)) for _unused in range(2)] == [2, 1]
            time.sleep(1.05)
            assert _remaining(client.get(path)) == 2


def test_unauthenticated_callers_are_limited_too(limited):
    with ApiClient(limited) as anonymous:
        codes = [anonymous.get("/nope").status_code for _unused in range(6)]
    assert codes == [404] * 5 + [429]


def test_control_endpoints_are_neither_limited_nor_recorded(limited):
    control = ControlClient(limited.control_url)
    for _unused in range(20):
        control.tunnels()
    assert limited.requests == []
    with ApiClient(limited, token=limited.token("magic_wan_write")) as client:
        answer = client.get(f"/accounts/{limited.account_id}/magic/ipsec_tunnels")
    assert _remaining(answer) == 4 and error_codes(answer) == []


def test_fractional_windows_show_in_the_policy():
    with Emulator(tls=False, ratelimit_quota=30, ratelimit_window=2.5) as emulator:
        with ApiClient(emulator) as client:
            answer = client.get("/nope")
    assert answer.headers["Ratelimit-Policy"] == '"burst";q=30;w=2.5'
    assert _reset(answer) == 3  # 2.5 s rounded up
