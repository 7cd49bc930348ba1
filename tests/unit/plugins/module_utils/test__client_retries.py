"""CloudflareClient.call's retry loop and lost-answer logic, with a fake session, clock and pacing."""

from __future__ import annotations

import pytest
import requests
from support.fakes import FakeClock, FakePacing, FakeResponse, FakeSession, fake_client, ok, refused

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import (
    KEY_UNCHANGED,
    ApiError,
    KeyStateUnknown,
    TransportError,
)

PATH = "/accounts/a/magic/ipsec_tunnels/t/psk_generate"
RESET = requests.exceptions.ConnectionError("('Connection aborted.', ConnectionResetError(104, 'reset'))")
REFUSED = requests.exceptions.ConnectionError("NewConnectionError: [Errno 111] Connection refused")
HTML_200 = FakeResponse(200, content=b"<html><title>Oops</title></html>", headers={"Content-Type": "text/html"})


def call(*script, mutates=True, **retry):
    session, clock, pacing = FakeSession(*script), FakeClock(), FakePacing()
    client = fake_client(session, pacing=pacing, clock=clock, **retry)
    try:
        return client.call("POST", PATH, body={}, mutates=mutates), session, clock, pacing
    except Exception as error:  # noqa: BLE001 - handed to the test to look at
        return error, session, clock, pacing


def test_a_429_within_rate_limit_max_wait_is_waited_out_and_sent_again():
    answer, session, clock, _pacing = call(refused(429, headers={"Retry-After": "20"}), ok({"psk": "k"}))
    assert answer == {"psk": "k"} and len(session.sent) == 2 and clock.slept == [20.0]


def test_a_429_beyond_rate_limit_max_wait_fails_at_once_saying_when_and_that_the_key_stayed():
    error, session, clock, _pacing = call(refused(429, headers={"Retry-After": "300"}), rate_limit_max_wait=60.0)
    assert isinstance(error, ApiError) and error.status == 429 and error.retry_after == 300.0
    assert "Retry after 2026-11-26T12:05:00Z" in str(error) and str(error).endswith(KEY_UNCHANGED)
    assert len(session.sent) == 1 and clock.slept == []


def test_a_5xx_is_retried_with_backoff_and_the_later_answer_counts():
    answer, session, clock, _pacing = call(refused(502), refused(503), ok({"psk": "k"}))
    assert answer == {"psk": "k"} and len(session.sent) == 3
    assert len(clock.slept) == 2 and 0.5 <= clock.slept[0] <= 1.0 and 1.0 <= clock.slept[1] <= 2.0


def test_a_5xx_on_every_attempt_of_a_mutating_call_leaves_the_key_unknown():
    error, session, _clock, _pacing = call(*[refused(500)] * 3, retries=2)
    assert isinstance(error, KeyStateUnknown) and "may have changed" in str(error) and len(session.sent) == 3


def test_a_reset_after_sending_is_sent_again_and_then_the_key_is_unknown():
    error, session, _clock, _pacing = call(RESET, RESET, retries=1)
    assert isinstance(error, KeyStateUnknown) and "2 attempt(s)" in str(error) and len(session.sent) == 2


def test_a_refused_connection_never_reached_cloudflare_so_the_key_is_unchanged():
    error, session, _clock, _pacing = call(REFUSED, REFUSED, retries=1)
    assert isinstance(error, TransportError) and not isinstance(error, KeyStateUnknown)
    assert "could not connect" in str(error) and str(error).endswith(KEY_UNCHANGED) and len(session.sent) == 2


def test_a_lost_answer_then_a_refused_connection_still_leaves_the_key_unknown():
    error, _session, _clock, _pacing = call(RESET, REFUSED, retries=1)
    assert isinstance(error, KeyStateUnknown)


def test_an_unreadable_2xx_is_retried_and_then_unknown_when_mutating():
    error, session, _clock, _pacing = call(HTML_200, HTML_200, retries=1)
    assert isinstance(error, KeyStateUnknown) and "HTML page" in str(error) and len(session.sent) == 2


def test_the_same_failures_of_a_call_that_changes_nothing_are_plain_errors():
    error, _session, _clock, _pacing = call(HTML_200, HTML_200, retries=1, mutates=False)
    assert isinstance(error, ApiError) and not isinstance(error, KeyStateUnknown) and KEY_UNCHANGED not in str(error)
    error, _session, _clock, _pacing = call(RESET, retries=0, mutates=False)
    assert isinstance(error, TransportError) and KEY_UNCHANGED not in str(error)


def test_a_readable_refusal_is_not_retried_and_says_the_key_stayed():
    error, session, clock, _pacing = call(refused(403, 10000, "Authentication error"))
    assert isinstance(error, ApiError) and [e["code"] for e in error.errors] == [10000] and str(error).endswith(KEY_UNCHANGED)
    assert len(session.sent) == 1 and clock.slept == []


def test_a_rate_limit_wait_does_not_use_up_retry_max_time():
    answer, _session, clock, _pacing = call(refused(429, headers={"Retry-After": "200"}), ok({}), max_time=5.0)
    assert answer == {} and clock.slept == [200.0]


@pytest.mark.parametrize("headers, expected", [
    ({"Ratelimit": '"default";r=7;t=30', "Ratelimit-Policy": '"burst";q=1200;w=300'}, (7, 30.0, 1200, None)),
    ({"Retry-After": "1.2"}, (None, None, None, 2.0)),
])
def test_each_answer_s_headers_are_read_once_and_handed_to_the_pacing(headers, expected):
    answer, _session, _clock, pacing = call(FakeResponse(200, {"success": True, "errors": [], "result": {}},
                                                         headers=headers), mutates=False)
    (info, status), = pacing.observed
    assert answer == {} and pacing.before == 1 and status == 200
    assert (info.remaining, info.reset, info.quota, info.retry_after) == expected


def test_a_header_that_cannot_be_encoded_fails_at_once_without_saying_the_key_may_have_changed():
    # http.client encodes the head in latin-1 before anything is sent; the options refuse such a
    # credential first, and this is the client's own guard behind them.
    unsendable = UnicodeEncodeError("latin-1", "Bearer tok\u20ac", 10, 11, "ordinal not in range(256)")
    error, session, clock, _pacing = call(unsendable, unsendable, retries=4)
    assert isinstance(error, TransportError) and not isinstance(error, KeyStateUnknown)
    assert len(session.sent) == 1 and clock.slept == []
    assert "may have" not in str(error) and KEY_UNCHANGED in str(error) and "\u20ac" not in str(error)
    assert "nothing reached Cloudflare" in str(error)


def test_a_name_that_does_not_resolve_never_reached_cloudflare_so_the_key_is_unchanged():
    unresolved = requests.exceptions.ConnectionError(
        "HTTPSConnectionPool(host='api.example.test', port=443): Max retries exceeded (Caused by "
        "NameResolutionError(\"Failed to resolve 'api.example.test' ([Errno -2] Name or service not known)\"))")
    error, session, _clock, _pacing = call(unresolved, unresolved, retries=1)
    assert isinstance(error, TransportError) and not isinstance(error, KeyStateUnknown)
    assert "may have" not in str(error) and str(error).endswith(KEY_UNCHANGED) and len(session.sent) == 2
