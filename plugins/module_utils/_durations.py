# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ages and timestamps for ``max_age``. For internal collection use only."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import OptionError

_DURATION = re.compile(r"\A\s*(\d+)\s*([dhms]?)\s*\Z")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1, "": 1}
_STAMP = re.compile(r"\A(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})\Z")


def parse_max_age(value):
    """``90d``, ``12h``, ``30m``, ``45s`` or plain seconds, as a ``timedelta``; OptionError otherwise."""
    match = _DURATION.match(f"{value}")
    if not match or int(match.group(1)) == 0:
        raise OptionError("max_age", f"{value!r} is not a positive duration",
                          "Write it as a whole number with d, h, m or s (90d, 12h, 30m), or as seconds.")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def parse_timestamp(value):
    """Cloudflare's RFC 3339 time (nanoseconds allowed) as an aware datetime, or None if unreadable."""
    if not isinstance(value, str):
        return None
    match = _STAMP.match(value.strip())
    if not match:
        return None
    fraction = (match.group(2) or "")[:6].ljust(6, "0")
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    try:
        return datetime.fromisoformat(f"{match.group(1)}.{fraction}{zone}").astimezone(timezone.utc)
    except ValueError:
        return None


def is_older_than(last_generated_on, max_age, now):
    """True when the key was generated longer ago than ``max_age``, or when its age is unknown."""
    generated = parse_timestamp(last_generated_on)
    return generated is None or now - generated > max_age


_INSTANT = re.compile(r"\A(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})\Z")


def parse_instant(value):
    """An RFC 3339 time as ``(epoch_seconds, nanoseconds)`` in UTC, so that ``==`` compares instants exactly
    (``Z`` and ``+00:00``, ``.5`` and ``.500000000`` are equal); ValueError for anything else."""
    match = _INSTANT.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError("not an RFC 3339 time such as 2026-11-28T10:48:15.953887008Z")
    zone = "+00:00" if match.group(4) == "Z" else match.group(4)
    moment = datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}{zone}")
    nanoseconds = int((match.group(3) or "").ljust(9, "0"))
    return int(moment.timestamp()), nanoseconds
