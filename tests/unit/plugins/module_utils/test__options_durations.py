from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.cloudflare.magic.plugins.module_utils._options import (
    is_older_than,
    parse_instant,
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


@pytest.mark.parametrize("text", [
    "2026-11-26T10:48:15.953887008Z", "2026-11-26T10:48:15.953887008+00:00", "2026-11-26T11:48:15.953887008+01:00",
    "2026-11-26T05:18:15.953887008-05:30", "2026-11-26T10:48:15.9538870080Z"[:-2] + "Z",
    "2026-11-26t10:48:15.953887008z", "2026-11-26 10:48:15.953887008Z"])
def test_parse_instant_same_instant_whatever_the_form(text):
    assert parse_instant(text) == parse_instant("2026-11-26T10:48:15.953887008Z")


def test_parse_instant_keeps_nanoseconds_and_pads_short_fractions():
    assert parse_instant("1970-01-01T00:00:01Z") == (1, 0)
    assert parse_instant("1970-01-01T00:00:01.5Z") == (1, 500_000_000)
    assert parse_instant("1970-01-01T00:00:01.000000001Z") == (1, 1)
    assert parse_instant("1970-01-01T00:00:01.000000001Z") != parse_instant("1970-01-01T00:00:01.000000002Z")


@pytest.mark.parametrize("text", ["", "yesterday", "2026-11-26", "2026-11-26T10:48:15", "2026-11-26_10:48:15Z",
                                  "2026-11-26T10:48:15.Z", "2026-11-26T10:48:15.0123456789Z",
                                  "2026-13-26T10:48:15Z", "2026-11-26T10:48:15+24:00", "2026-11-26T10:48:15+0100",
                                  " 2026-11-26T10:48:15Z", None, 1764154095])
def test_parse_instant_refuses_anything_else(text):
    with pytest.raises(ValueError):
        parse_instant(text)


@pytest.mark.parametrize("value", ["9" * 5000, "9" * 5000 + "d", "0" * 30 + "9" * 13])
def test_a_huge_max_age_is_an_option_error_naming_the_option(value):
    with pytest.raises(OptionError) as caught:
        parse_max_age(value)
    assert str(caught.value).startswith("max_age: ") and "9" * 41 not in str(caught.value)


def test_leading_zeros_do_not_count_against_the_digits():
    assert parse_max_age("0" * 20 + "90d") == timedelta(days=90)
