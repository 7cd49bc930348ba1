from __future__ import annotations

import json

import pytest

from support.fakes import Headers

from ansible_collections.cloudflare.magic.plugins.module_utils._client import parse_envelope, read_rate_limit
from ansible_collections.cloudflare.magic.plugins.module_utils._errors import ApiError

JSON = {"Content-Type": "application/json"}
NO_LIMIT = read_rate_limit({})


def envelope(success=True, result=None, errors=()):
    return json.dumps({"success": success, "errors": list(errors), "messages": [], "result": result}).encode()


def test_success_returns_result():
    assert parse_envelope(200, JSON, envelope(result={"a": 1}), NO_LIMIT) == {"a": 1}


def test_success_false_on_200_is_a_failure_with_codes():
    with pytest.raises(ApiError) as info:
        parse_envelope(200, JSON, envelope(False, errors=[{"code": 1001, "message": "nope"}]), NO_LIMIT)
    assert [e["code"] for e in info.value.errors] == [1001]
    assert "HTTP 200: success: false ([1001] nope)" in str(info.value)


def test_error_status_carries_cloudflare_codes():
    with pytest.raises(ApiError) as info:
        parse_envelope(403, JSON, envelope(False, errors=[{"code": 10000, "message": "Authentication error"}]), NO_LIMIT)
    assert str(info.value) == "Cloudflare API answered HTTP 403: permission denied ([10000] Authentication error)"


def test_html_page_is_summarised_by_its_title():
    page = b"<html><head><title>api.cloudflare.com | 520: Web server is returning an unknown error</title>"
    with pytest.raises(ApiError) as info:
        parse_envelope(520, {"Content-Type": "text/html"}, page + b"</head><body>x</body></html>", NO_LIMIT)
    assert "HTML page instead of JSON (api.cloudflare.com | 520" in str(info.value)


def test_truncated_json_is_named():
    with pytest.raises(ApiError, match="cut short or malformed"):
        parse_envelope(200, JSON, envelope(result={"psk": "x" * 43})[:30], NO_LIMIT)


def test_json_that_is_not_the_envelope():
    with pytest.raises(ApiError, match="not Cloudflare's envelope"):
        parse_envelope(200, JSON, b"[1, 2]", NO_LIMIT)


@pytest.mark.parametrize("value, seconds", [("300", 300.0), ("0", 0.0), ("1.2", 2.0), ("soon", None), ("-1", None)])
def test_retry_after(value, seconds):
    assert read_rate_limit({"Retry-After": value}).retry_after == seconds


@pytest.mark.parametrize("content", [b"", b"  \r\n"])
def test_an_empty_body_says_the_answer_was_empty(content):
    with pytest.raises(ApiError) as caught:
        parse_envelope(200, JSON, content, NO_LIMIT)
    assert "the answer was empty" in str(caught.value)
    assert caught.value.readable is False


def test_reads_cloudflares_headers():
    info = read_rate_limit(Headers({"ratelimit": '"default";r=1197;t=42',
                                    "ratelimit-policy": '"burst";q=1200;w=300'}))
    assert (info.remaining, info.reset, info.quota, info.window, info.retry_after) == (1197, 42.0, 1200, 300.0, None)
    assert info.known


def test_a_429_gives_retry_after():
    info = read_rate_limit(Headers({"Ratelimit": '"default";r=0;t=300', "Retry-After": "300"}))
    assert (info.remaining, info.reset, info.retry_after) == (0, 300.0, 300.0)


def test_only_the_first_item_of_a_list_counts_and_spacing_is_tolerated():
    info = read_rate_limit(Headers({"Ratelimit": '"default"; r=5; t=2.5, "other";r=900;t=1'}))
    assert (info.remaining, info.reset) == (5, 2.5)


def test_unreadable_or_missing_values_are_unknown_not_errors():
    for value in ('"default";r=-1;t=3', '"default";r=abc;t=x', '"default";r=1.5;t=nan', "garbage", ""):
        info = read_rate_limit(Headers({"Ratelimit": value, "Ratelimit-Policy": '"burst";q=0;w=-4'}))
        assert not info.known and info.quota is None and info.window is None
    assert not read_rate_limit(Headers()).known
    assert not read_rate_limit(None).known
