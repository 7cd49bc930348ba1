from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.cloudflare.magic.plugins.module_utils._durations import (
    is_older_than,
    parse_max_age,
    parse_timestamp,
)
from ansible_collections.cloudflare.magic.plugins.module_utils._errors import OptionError


@pytest.mark.parametrize("text, seconds", [("90d", 90 * 86400), ("12h", 43200), ("30m", 1800),
                                           ("45s", 45), ("3600", 3600), (7200, 7200)])
def test_max_age_forms(text, seconds):
    assert parse_max_age(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "0", "-5d", "1.5h", "90 days", "d", "1w"])
def test_bad_max_age_names_the_option(text):
    with pytest.raises(OptionError, match="^max_age: "):
        parse_max_age(text)


def test_nanosecond_timestamps_are_read():
    stamp = parse_timestamp("2023-04-21T10:48:15.953887008Z")
    assert stamp == datetime(2023, 4, 21, 10, 48, 15, 953887, tzinfo=timezone.utc)


def test_age_decision():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert is_older_than("2025-01-01T00:00:00Z", timedelta(days=90), now)
    assert not is_older_than("2025-12-31T00:00:00Z", timedelta(days=90), now)
    assert is_older_than(None, timedelta(days=90), now)
    assert is_older_than("yesterday", timedelta(days=90), now)


@pytest.mark.parametrize("value", ["99999999999d", "36501d", "9" * 40])
def test_an_age_beyond_a_century_is_an_option_error(value):
    with pytest.raises(OptionError) as caught:
        parse_max_age(value)
    assert str(caught.value).startswith("max_age:")


def test_a_century_is_accepted():
    assert parse_max_age("36500d") == timedelta(days=36500)
