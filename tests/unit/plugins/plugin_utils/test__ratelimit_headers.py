from __future__ import annotations

from ansible_collections.cloudflare.magic.plugins.module_utils._client import read_rate_limit


class Headers(dict):
    """Case-insensitive like requests' headers."""

    def get(self, key, default=None):
        return next((v for k, v in self.items() if k.lower() == key.lower()), default)


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
