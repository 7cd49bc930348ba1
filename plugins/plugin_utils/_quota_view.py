# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What is known about one credential's quota, and when the next request may go. For internal collection use only.

Plain data and rules, no I/O: ``_pacing`` keeps one ``QuotaView`` per credential in a file that every
fork of the controller reads and writes under a lock. Times are wall-clock seconds, because they are
shared between processes; Cloudflare's ``t`` is relative, so only the controller's clock matters.

The rules, all on the side of caution:
- A request reserves a slot before it is sent; a slot is free when ``remaining`` (the lowest ``r``
  any answer of the current window gave) exceeds the requests still in flight.
- When nothing is known (the first request, or the window has ended) one request goes alone and
  its answer says what the window holds: other users of the same token are counted that way.
- ``t`` is whole seconds, rounded up: an answer received at ``received`` for a request sent at
  ``sent`` puts the window's end in ``(sent + t - 1, received + t]``. The bounds of all answers of a
  window are intersected, so the next window is probed soon after the real reset, never before.
- A 429 blocks every request until ``Retry-After`` has passed.
"""

from __future__ import annotations

import math

DEFAULT_QUOTA = 1200  # Cloudflare's documented quota, for answers that carry no headers
DEFAULT_WINDOW = 300.0
EDGE_MARGIN = 0.005  # seconds after the latest possible reset before the next window's first request
PROBE_POLL = 0.01  # how often a waiting request looks whether the lone request has been answered
WINDOW_POLL = 0.05  # how often a request waiting for the next window looks again
STALE_RESERVATION = 600.0  # a request unanswered for this long is taken as lost (and as counted)
MAX_BLOCK = 3600.0  # a block longer than this is not believed (a clock jump, a damaged file)

# What a stored view may hold; anything else makes the whole file count as corrupt (and be reset).
MAX_QUOTA = 1000000  # requests a window; Cloudflare's is 1200
MAX_WINDOW = 86400.0  # seconds; Cloudflare's is 300
MAX_AHEAD = 86400.0  # no stored time is believed to lie further ahead of now
MAX_PID = 4194304  # Linux's PID_MAX_LIMIT; other Unixes stay below it
MAX_INFLIGHT = 100000
LATEST_INSTANT = 1e11  # seconds since 1970 (year 5138): the bound when no "now" is given


class QuotaView:
    """Counters and times only: never a credential."""

    def __init__(self, quota=None, window=None, reset_lo=None, reset_hi=None, remaining=None,
                 blocked_until=None, inflight=None, headerless=False):
        self.quota = quota
        self.window = window
        self.reset_lo = reset_lo
        self.reset_hi = reset_hi
        self.remaining = remaining
        self.blocked_until = blocked_until
        self.inflight = dict(inflight or {})  # reservation id -> [pid, sent]
        self.headerless = headerless

    # --- persistence -------------------------------------------------------------------------
    FIELDS = ("quota", "window", "reset_lo", "reset_hi", "remaining", "blocked_until", "inflight", "headerless")

    def to_json(self):
        return {name: getattr(self, name) for name in self.FIELDS}

    @classmethod
    def from_json(cls, data, now=None):
        """A view from stored data; anything unexpected, absurd or non-finite gives a fresh (unknown) view.

        Times later than ``now + MAX_AHEAD`` count as absurd too. Every field is checked for its exact
        JSON type and range, so that nothing in a damaged or planted file can overflow or stall a task.
        """
        if not isinstance(data, dict):
            return cls()
        latest = LATEST_INSTANT if now is None else now + MAX_AHEAD
        try:
            inflight = data.get("inflight")
            if inflight is None:
                inflight = {}
            if not isinstance(inflight, dict) or len(inflight) > MAX_INFLIGHT:
                raise ValueError("inflight")
            reservations = {}
            for rid, entry in inflight.items():
                if not isinstance(entry, list) or len(entry) != 2:
                    raise ValueError("inflight entry")
                reservations[rid] = [_whole(entry[0], 1, MAX_PID), _seconds(entry[1], 0.0, latest)]
            headerless = data.get("headerless", False)
            if not isinstance(headerless, bool):
                raise ValueError("headerless")
            return cls(quota=_optional(_whole, data.get("quota"), 1, MAX_QUOTA),
                       window=_optional(_seconds, data.get("window"), 1e-3, MAX_WINDOW),
                       reset_lo=_optional(_seconds, data.get("reset_lo"), 0.0, latest),
                       reset_hi=_optional(_seconds, data.get("reset_hi"), 0.0, latest),
                       remaining=_optional(_whole, data.get("remaining"), 0, MAX_QUOTA),
                       blocked_until=_optional(_seconds, data.get("blocked_until"), 0.0, latest),
                       inflight=reservations, headerless=headerless)
        except ValueError:
            return cls()

    # --- sending -----------------------------------------------------------------------------
    def admit(self, rid, pid, now):
        """Reserve a slot for request ``rid`` and return 0, or return how long to wait before asking again."""
        self._forget_implausible(now)
        if self.blocked_until is not None and now < self.blocked_until:
            return self.blocked_until - now
        if self.remaining is None or self.reset_hi is None:
            return self._probe(rid, pid, now, since=None)
        if now >= self.reset_hi + EDGE_MARGIN:
            return self._probe(rid, pid, now, since=self.reset_hi)
        if self.remaining - len(self.inflight) > 0:
            self.inflight[rid] = [pid, now]
            return 0.0
        until_reset = self.reset_hi + EDGE_MARGIN - now
        # Answers still out may narrow the window's end; with none out, sleep to the end exactly.
        return max(0.001, min(WINDOW_POLL, until_reset) if self.inflight else until_reset)

    def exhausted_until(self, now):
        """When the quota frees a slot, if it is used up now (a block, or a window with none left); else None."""
        if self.blocked_until is not None and now < self.blocked_until:
            return self.blocked_until
        if self.remaining is None or self.reset_hi is None or now >= self.reset_hi + EDGE_MARGIN:
            return None
        return self.reset_hi + EDGE_MARGIN if self.remaining - len(self.inflight) <= 0 else None

    def _probe(self, rid, pid, now, since):
        """One request alone finds out what a window we know nothing about holds."""
        if any(since is None or sent >= since for _unused, sent in self.inflight.values()):
            return PROBE_POLL
        self.inflight[rid] = [pid, now]
        return 0.0

    # --- answers -----------------------------------------------------------------------------
    def settle(self, rid, sent, received, info, status):
        """Take in what the answer to request ``rid`` said (a ``RateLimitInfo``)."""
        self.inflight.pop(rid, None)
        if info.quota:
            self.quota = info.quota
        if info.window:
            self.window = info.window
        if status == 429:
            wait = next((w for w in (info.retry_after, info.reset) if w is not None), self.window or DEFAULT_WINDOW)
            until = received + wait
            self.blocked_until = max(self.blocked_until or 0.0, until)
            self._adopt(until - 1.0, until, 0)
            return
        if info.known:
            self.headerless = False
            self._merge(sent + info.reset - 1.0, received + info.reset, info.remaining, sent)
            return
        # No headers (an edge error page, an API that does not send them): count locally against the
        # documented quota, so that pacing still holds where Cloudflare says nothing.
        self.headerless = True
        if self.remaining is None or self.reset_hi is None or sent >= self.reset_hi:
            self._adopt(sent, received + (self.window or DEFAULT_WINDOW), (self.quota or DEFAULT_QUOTA) - 1)
        else:
            self.remaining = max(0, self.remaining - 1)

    def abandon(self, rid):
        """Request ``rid`` got no answer: it may still have been counted, so count it."""
        if self.inflight.pop(rid, None) is not None and self.remaining is not None:
            self.remaining = max(0, self.remaining - 1)

    def prune(self, now, is_alive):
        """Count as lost the reservations of processes that are gone or that waited too long."""
        for rid, (pid, sent) in list(self.inflight.items()):
            if now - sent > STALE_RESERVATION or sent - now > 60.0 or not is_alive(pid):
                self.abandon(rid)

    def _merge(self, lo, hi, remaining, sent):
        if self.reset_hi is None or self.remaining is None or sent >= self.reset_hi or lo > self.reset_hi:
            self._adopt(lo, hi, remaining)  # sent after the known window ended: a newer window
            return
        if hi < self.reset_lo:
            return  # a late answer from a window that has ended
        new_lo, new_hi = max(lo, self.reset_lo), min(hi, self.reset_hi)
        if new_lo > new_hi:
            if hi > self.reset_hi:
                self._adopt(lo, hi, remaining)
            return
        self.reset_lo, self.reset_hi = new_lo, new_hi
        self.remaining = min(self.remaining, remaining)

    def _adopt(self, lo, hi, remaining):
        self.reset_lo, self.reset_hi, self.remaining = lo, hi, remaining

    def _forget_implausible(self, now):
        """Drop what no real answer could have said, e.g. after the wall clock jumped."""
        limit = (self.window or DEFAULT_WINDOW) + 60.0
        if self.reset_hi is not None and self.reset_hi - now > limit:
            self.reset_lo = self.reset_hi = self.remaining = None
        if self.blocked_until is not None and self.blocked_until - now > MAX_BLOCK:
            self.blocked_until = None


def _optional(check, value, low, high):
    return None if value is None else check(value, low, high)


def _whole(value, low, high):
    """A JSON integer (not a boolean, not a float) in ``[low, high]``; ValueError otherwise."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError("not a plausible whole number")
    return value


def _seconds(value, low, high):
    """A finite JSON number (not a boolean) in ``[low, high]``, as a float; ValueError otherwise."""
    # The range test comes first: NaN fails it, and math.isfinite would overflow on a huge integer.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("not a number")
    if not (low <= value <= high and math.isfinite(value)):
        raise ValueError("not a plausible number of seconds")
    return float(value)
