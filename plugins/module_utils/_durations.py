# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ages and timestamps for ``max_age``. For internal collection use only."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import OptionError

_DURATION = re.compile(r"\A\s*(\d+)\s*([dhms]?)\s*\Z")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1, "": 1}
MAX_AGE_DAYS = 36500  # far inside what timedelta and datetime arithmetic can hold
_INSTANT = re.compile(r"\A(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2}):(\d{2}))\Z")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_max_age(value):
    """``90d``, ``12h``, ``30m``, ``45s`` or plain seconds, as a ``timedelta``; OptionError otherwise."""
    match = _DURATION.match(f"{value}")
    if not match or int(match.group(1)) == 0:
        raise OptionError("max_age", f"{value!r} is not a positive duration",
                          "Write it as a whole number with d, h, m or s (90d, 12h, 30m), or as seconds.")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > MAX_AGE_DAYS * 86400:
        raise OptionError("max_age", f"is longer than {MAX_AGE_DAYS} days (100 years)",
                          "Give a shorter age, such as 90d; to never rotate, skip the task instead.")
    return timedelta(seconds=seconds)


def parse_instant(value):
    """An RFC 3339 time (``Z`` or ``+HH:MM``, 0 to 9 digits of fraction) as ``(epoch_seconds, nanoseconds)``
    in UTC, so that ``==`` compares instants exactly; ValueError for anything else."""
    match = _INSTANT.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError("not an RFC 3339 time such as 2026-11-26T10:48:15.953887008Z")
    year, month, day, hour, minute, second = (int(group) for group in match.groups()[:6])
    fraction, _zulu, sign, offset_hours, offset_minutes = match.groups()[6:]
    local = datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)  # ValueError on a bad field
    offset = 0
    if sign:
        if int(offset_hours) > 23 or int(offset_minutes) > 59:
            raise ValueError("the UTC offset is out of range")
        offset = (int(offset_hours) * 3600 + int(offset_minutes) * 60) * (1 if sign == "+" else -1)
    seconds = (local - _EPOCH) // timedelta(seconds=1) - offset
    return seconds, int((fraction or "").ljust(9, "0"))


def parse_timestamp(value):
    """Cloudflare's RFC 3339 time (nanoseconds allowed) as an aware UTC datetime, or None if unreadable."""
    try:
        seconds, nanoseconds = parse_instant(value.strip() if isinstance(value, str) else value)
    except ValueError:
        return None
    return _EPOCH + timedelta(seconds=seconds, microseconds=nanoseconds // 1000)


def is_older_than(last_generated_on, max_age, now):
    """True when the key was generated longer ago than ``max_age``, or when its age is unknown."""
    generated = parse_timestamp(last_generated_on)
    return generated is None or now - generated > max_age
