# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""When to retry a Cloudflare request, and how long to wait first. For internal collection use only."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import ApiError, TransportError


class RetryPolicy:
    """Bounded retries: ``retries`` extra attempts, all within ``max_time`` seconds.

    - 429: wait what Retry-After says while all such waits of the request add up to at most
      ``rate_limit_max_wait``; longer, fail saying when to try again (Cloudflare blocks every call for
      five minutes once over quota). These waits do not count against ``max_time``, so that the
      default cap can wait out such a block.
    - 5xx, an unreadable 2xx body, connection failures and timeouts: exponential backoff from
      ``backoff`` seconds, doubling up to ``backoff_max``, with jitter.
    - Everything else (4xx, ``success: false``, TLS): no retry; it will not get better.
    """

    def __init__(self, retries=4, max_time=180.0, rate_limit_max_wait=310.0, backoff=1.0, backoff_max=30.0,
                 rng=None, now=None):
        self.retries = retries
        self.max_time = max_time
        self.rate_limit_max_wait = rate_limit_max_wait
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.rng = rng or random.Random()
        self.now = now or (lambda: datetime.now(timezone.utc))

    def wait_before_retry(self, error, attempt, remaining, rate_limit_waited=0.0):
        """Seconds to wait before attempt ``attempt + 1``, or None to give up.

        ``remaining`` is what is left of ``max_time``; ``rate_limit_waited`` is what earlier 429s of
        the same request have already been waited out.
        """
        if attempt > self.retries or not _retryable(error):
            return None
        if is_timed_rate_limit(error):
            wait = error.retry_after
            return wait if wait + rate_limit_waited <= self.rate_limit_max_wait else None
        wait = self._backoff(attempt)
        return wait if wait <= remaining else None

    def explain(self, error):
        """The error to raise when giving up on ``error``: a rate limit says when to try again."""
        if not is_timed_rate_limit(error):
            return error
        wait = error.retry_after
        when = (self.now() + timedelta(seconds=wait)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return ApiError(
            error.status, error.errors,
            f"rate limited; Cloudflare asks to wait {wait:g} s, and this task may wait at most "
            f"{self.rate_limit_max_wait:g} s (rate_limit_max_wait) in all, with {self.retries} "
            f"retries (retries). Retry after {when}",
            retry_after=wait)

    def _backoff(self, attempt):
        base = min(self.backoff * (2 ** (attempt - 1)), self.backoff_max)
        return base * (0.5 + self.rng.random() / 2)


def is_timed_rate_limit(error):
    """A 429 that says how long to wait (Retry-After)."""
    return isinstance(error, ApiError) and error.status == 429 and error.retry_after is not None


def _retryable(error):
    if isinstance(error, TransportError):
        return error.retryable
    if isinstance(error, ApiError):
        return error.status == 429 or error.status >= 500 or (200 <= error.status < 300 and not error.readable)
    return False
