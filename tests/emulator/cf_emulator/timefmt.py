"""Timestamps the way Cloudflare writes them: RFC 3339, UTC, nanoseconds, ``Z``."""

from __future__ import annotations

import time
from datetime import datetime, timezone

_NS_PER_S = 1_000_000_000
_NS_PER_DAY = 86_400 * _NS_PER_S


def format_ns(epoch_ns: int) -> str:
    """``2023-04-21T10:48:15.953887008Z`` for a time in nanoseconds since the epoch."""
    seconds, nanos = divmod(epoch_ns, _NS_PER_S)
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z"


def now() -> str:
    return format_ns(time.time_ns())


def days_ago(days: float) -> str:
    return format_ns(time.time_ns() - int(days * _NS_PER_DAY))
