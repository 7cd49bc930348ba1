"""Cloudflare's per-credential rate limit: a quota per window, then a block for everyone using it."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    remaining: int
    reset_seconds: int  # whole seconds until the window (or the block) ends
    retry_after: int | None = None  # set when blocked


class RateLimiter:
    def __init__(self, quota: int = 1200, window: float = 300.0, block: float = 300.0,
                 clock: Callable[[], float] = time.monotonic):
        if quota < 1 or window <= 0 or block < 0:
            raise ValueError("quota must be >= 1, window > 0, block >= 0")
        self.quota = quota
        self.window = float(window)
        self.block = float(block)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, list[float]] = {}  # key -> [window_start, count, blocked_until]

    def hit(self, key: str) -> Verdict:
        """Count one request for ``key`` and say whether it may proceed."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = [now, 0, 0.0]
            window_start, count, blocked_until = bucket
            if blocked_until > now:
                wait = _ceil(blocked_until - now)
                return Verdict(False, 0, wait, wait)
            if blocked_until or now - window_start >= self.window:  # a lifted block starts a fresh window
                window_start, count = now, 0
            count += 1
            if count > self.quota:
                bucket[:] = [window_start, count, now + self.block]
                wait = max(1, _ceil(self.block))
                return Verdict(False, 0, wait, wait)
            bucket[:] = [window_start, count, 0.0]
            return Verdict(True, self.quota - count, _ceil(window_start + self.window - now))

    def headers(self, verdict: Verdict) -> dict[str, str]:
        return {
            "Ratelimit": f'"default";r={verdict.remaining};t={verdict.reset_seconds}',
            "Ratelimit-Policy": f'"burst";q={self.quota};w={_number(self.window)}',
        }


def _ceil(seconds: float) -> int:
    return max(0, math.ceil(seconds - 1e-9))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
