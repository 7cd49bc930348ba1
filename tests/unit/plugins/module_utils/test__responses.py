from __future__ import annotations

import json

import pytest

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import ApiError
from ansible_collections.cloudflare.magic.plugins.module_utils._client import parse_envelope, read_rate_limit

JSON = {"Content-Type": "application/json"}
NO_LIMIT = read_rate_limit({})


def envelope(success=True, result=None, errors=()):
    return json.dumps({"success": success, "errors": list(errors), "messages": [], "result": result}).encode()


def test_success_returns_result():
    assert parse_envelope(200, JSON, envelope(result={"a": 1}), NO_LIMIT) == {"a": 1}


def test_success_false_on_200_is_a_failure_with_codes():
    with pytest.raises(ApiError) as info:
        parse_envelope(200, JSON, envelope(False, errors=[{"code": 1001, "message": "nope"}]), NO_LIMIT)
    assert info.value.codes == [1001]
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
