"""Proxies: plain http (loopback only) never goes through one; https goes as a CONNECT tunnel that shows the
proxy no header of ours; NO_PROXY is honoured; a proxy that refuses says the key was not changed."""

from __future__ import annotations

import pytest

from cf_emulator import Emulator
from support.local_servers import ConnectProxy
from support.playbooks import PlaybookRunner, play, rotate_task, seed_account
from support.results import load_result, save_result_task

NO_PROXY_VARS = {name: None for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                                         "all_proxy", "NO_PROXY", "no_proxy")}


def tunnel_id(emulator, name="tunnel_nyc_01"):
    return next(t["id"] for t in seed_account(emulator)["tunnels"] if t["name"] == name)


def posts(emulator):
    return [r for r in emulator.requests if r.method == "POST"]


def test_plain_http_never_goes_through_a_proxy(tmp_path):
    with Emulator(tls=False) as emulator, ConnectProxy() as proxy:
        runner = PlaybookRunner(tmp_path / "run", emulator)
        env = dict(NO_PROXY_VARS, HTTP_PROXY=proxy.url, http_proxy=proxy.url, ALL_PROXY=proxy.url,
                   all_proxy=proxy.url, HTTPS_PROXY=proxy.url)
        run = runner.run(play(rotate_task(emulator, ipsec_tunnel_id=tunnel_id(emulator))), env=env)
        assert run.returncode == 0, run.stdout[-2000:]
        assert proxy.seen == [], "a plain-http request went to the proxy"
        assert len(posts(emulator)) == 1
        assert run.hits(runner.token) == 0


def test_https_goes_through_the_proxy_as_a_connect_tunnel(playbooks, emulator):
    with ConnectProxy() as proxy:
        env = dict(NO_PROXY_VARS, HTTPS_PROXY=proxy.url)
        run = playbooks.run(play(rotate_task(emulator, ipsec_tunnel_id=tunnel_id(emulator))), env=env)
        assert run.returncode == 0, run.stdout[-2000:]
        assert proxy.methods == ["CONNECT"]
        assert proxy.seen[0].target == f"127.0.0.1:{emulator.port}"
        assert not any(s.had_authorization for s in proxy.seen)
    assert len(posts(emulator)) == 1


def test_https_proxy_from_the_tasks_environment(playbooks, emulator):
    with ConnectProxy() as proxy:
        task = dict(rotate_task(emulator, ipsec_tunnel_id=tunnel_id(emulator)), environment={"https_proxy": proxy.url})
        run = playbooks.run(play(task), env=NO_PROXY_VARS)
        assert run.returncode == 0, run.stdout[-2000:]
        assert proxy.methods == ["CONNECT"]
        assert not any(s.had_authorization for s in proxy.seen)


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.0/8", "*"])
def test_no_proxy_is_honoured(playbooks, emulator, no_proxy):
    with ConnectProxy() as proxy:
        task = dict(rotate_task(emulator, ipsec_tunnel_id=tunnel_id(emulator)), environment={"NO_PROXY": no_proxy})
        run = playbooks.run(play(task), env=dict(NO_PROXY_VARS, HTTPS_PROXY=proxy.url))
        assert run.returncode == 0, run.stdout[-2000:]
        assert proxy.seen == []
    assert len(posts(emulator)) == 1


@pytest.mark.parametrize("status", [502, 403])
def test_a_proxy_that_refuses_says_the_key_is_unchanged(playbooks, emulator, tmp_path, status):
    tid = tunnel_id(emulator)
    before = emulator.edge_psk(tid)
    saved = tmp_path / "result.json"
    with ConnectProxy(refuse_status=status) as proxy:
        task = dict(rotate_task(emulator, ipsec_tunnel_id=tid, retries=1, retry_backoff=0.1), ignore_errors=True)
        run = playbooks.run(play(task, save_result_task(saved)), env=dict(NO_PROXY_VARS, HTTPS_PROXY=proxy.url))
        assert set(proxy.methods) == {"CONNECT"}
    result = load_result(saved)
    assert result["failed"] is True
    message = result["msg"]
    assert "never reached Cloudflare" in message, message
    assert "key was not changed" in message, message
    assert "may have changed" not in message, message
    assert emulator.requests == []
    unchanged = emulator.edge_psk(tid) == before
    assert unchanged, "the edge key changed"
    assert run.hits(playbooks.token) == 0
