from __future__ import annotations


from ansible_collections.cloudflare.magic.plugins.module_utils._errors import ApiError, TransportError
from support.fakes import policy


def test_server_errors_back_off_exponentially_with_jitter():
    p = policy(backoff=1.0, backoff_max=30.0)
    waits = [p.wait_before_retry(ApiError(502, [], "x"), n, 1000) for n in (1, 2, 3, 4)]
    for n, wait in enumerate(waits, start=1):
        assert 0.5 * 2 ** (n - 1) <= wait <= 2 ** (n - 1)


def test_attempts_are_bounded_in_count_and_time():
    p = policy(retries=2)
    assert p.wait_before_retry(TransportError("x", True), 3, 1000) is None
    assert p.wait_before_retry(TransportError("x", True), 1, 0.1) is None


def test_client_errors_and_tls_failures_are_not_retried():
    p = policy()
    assert p.wait_before_retry(ApiError(403, [{"code": 10000, "message": "m"}], "x"), 1, 1000) is None
    assert p.wait_before_retry(ApiError(200, [{"code": 1000, "message": "m"}], "x"), 1, 1000) is None
    assert p.wait_before_retry(TransportError("tls", retryable=False), 1, 1000) is None


def test_rate_limit_waits_retry_after_up_to_the_cap_then_says_when():
    p = policy(rate_limit_max_wait=60)
    assert p.wait_before_retry(ApiError(429, [], "x", retry_after=30.0), 1, 1000) == 30.0
    long_wait = ApiError(429, [{"code": 971, "message": "Please wait"}], "x", retry_after=300.0)
    assert p.wait_before_retry(long_wait, 1, 1000) is None
    message = str(p.explain(long_wait))
    assert "wait 300 s" in message and "Retry after 2026-11-26T12:05:00Z" in message
    assert "rate_limit_max_wait" in message and "[971]" in message
