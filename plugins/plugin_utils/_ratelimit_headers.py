# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading Cloudflare's rate-limit headers. For internal collection use only.

Every answer carries ``Ratelimit: "default";r=<remaining>;t=<seconds to reset>`` and
``Ratelimit-Policy: "burst";q=<quota>;w=<window seconds>`` (the IETF RateLimit header draft's
structured-field form). Anything unreadable is treated as absent, never as an error: pacing is a
courtesy to the quota, and a malformed header must not fail a key rotation.
"""

from __future__ import annotations

import math


class RateLimitInfo:
    """What one answer said about the quota; each field is None when the answer did not say."""

    def __init__(self, remaining=None, reset=None, quota=None, window=None, retry_after=None):
        self.remaining = remaining
        self.reset = reset
        self.quota = quota
        self.window = window
        self.retry_after = retry_after

    @property
    def known(self):
        return self.remaining is not None and self.reset is not None

    def __repr__(self):
        return (f"RateLimitInfo(remaining={self.remaining}, reset={self.reset}, quota={self.quota}, "
                f"window={self.window}, retry_after={self.retry_after})")


def read_rate_limit(headers):
    """A ``RateLimitInfo`` from an answer's headers (any mapping with case-insensitive ``get``)."""
    limit = _parameters(_header(headers, "Ratelimit"))
    policy = _parameters(_header(headers, "Ratelimit-Policy"))
    remaining = _number(limit.get("r"), integer=True)
    quota = _number(policy.get("q"), integer=True)
    window = _number(policy.get("w"))
    return RateLimitInfo(
        remaining=remaining,
        reset=_number(limit.get("t")),
        quota=quota if quota else None,
        window=window if window else None,
        retry_after=_number(_header(headers, "Retry-After")),
    )


def _header(headers, name):
    try:
        value = headers.get(name)
    except AttributeError:
        return None
    return value if isinstance(value, str) else None


def _parameters(value):
    """The ``key=value`` parameters of the first item of a structured-field list."""
    if not value:
        return {}
    first = value.split(",", 1)[0]
    found = {}
    for part in first.split(";")[1:]:
        key, sep, raw = part.partition("=")
        if sep:
            found.setdefault(key.strip().lower(), raw.strip().strip('"'))
    return found


def _number(raw, integer=False):
    if raw is None:
        return None
    try:
        value = float(raw.strip()) if isinstance(raw, str) else None
    except ValueError:
        return None
    if value is None or not math.isfinite(value) or value < 0:
        return None
    if integer:
        return int(value) if value.is_integer() else None
    return value
