"""Proxy choice from a task's environment mapping, never from the process's."""

from __future__ import annotations

import pytest

from ansible_collections.cloudflare.magic.plugins.module_utils._client import proxy_for, proxy_secrets, proxy_shown

HTTPS = "https://api.cloudflare.com/client/v4"


@pytest.mark.parametrize("name", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"])
def test_plain_http_is_never_proxied(name):
    assert proxy_for("http://127.0.0.1:8080/client/v4", {name: "http://proxy:3128"}) is None


def test_https_takes_https_proxy_then_all_proxy_lower_case_first():
    assert proxy_for(HTTPS, {"HTTPS_PROXY": "http://a:1", "https_proxy": "http://b:2"}) == "http://b:2"
    assert proxy_for(HTTPS, {"ALL_PROXY": "proxy:3"}) == "http://proxy:3"
    assert proxy_for(HTTPS, {"HTTP_PROXY": "http://a:1"}) is None
    assert proxy_for(HTTPS, {"HTTPS_PROXY": "  "}) is None


@pytest.mark.parametrize("no_proxy, bypassed", [
    ("cloudflare.com", True), (".cloudflare.com", True), ("api.cloudflare.com", True), ("*", True),
    ("example.com, other", False), ("", False), ("flare.com", False),
])
def test_no_proxy_names(no_proxy, bypassed):
    proxy = proxy_for(HTTPS, {"HTTPS_PROXY": "http://p:1", "NO_PROXY": no_proxy})
    assert (proxy is None) == bypassed


@pytest.mark.parametrize("no_proxy, bypassed", [("127.0.0.1", True), ("127.0.0.0/8", True), ("10.0.0.0/8", False),
                                                ("127.0.0.1:8443", True), ("127.0.0.1:9", False)])
def test_no_proxy_addresses(no_proxy, bypassed):
    proxy = proxy_for("https://127.0.0.1:8443/client/v4", {"https_proxy": "http://p:1", "no_proxy": no_proxy})
    assert (proxy is None) == bypassed


def test_a_proxy_is_shown_without_its_password():
    proxy = "http://user:hunter2secret@proxy.example:3128"
    assert proxy_shown(proxy) == "http://proxy.example:3128"
    assert proxy_secrets(proxy) == ["hunter2secret"]
    assert proxy_secrets(None) == []
