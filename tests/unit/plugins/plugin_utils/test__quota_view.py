"""The rules of sending under a shared quota, with time as plain numbers."""

from __future__ import annotations

import pytest

from ansible_collections.cloudflare.magic.plugins.plugin_utils._quota_view import QuotaView
from ansible_collections.cloudflare.magic.plugins.module_utils._client import RateLimitInfo


def alive(pid):
    return True


def answer(remaining, reset, quota=10, window=5.0, retry_after=None):
    return RateLimitInfo(remaining=remaining, reset=reset, quota=quota, window=window, retry_after=retry_after)


def test_the_first_request_goes_alone_until_its_answer_says_what_the_window_holds():
    view = QuotaView()
    assert view.admit("a", 1, 100.0) == 0
    assert view.admit("b", 2, 100.0) > 0  # nothing known yet, one is out
    view.settle("a", 100.0, 100.1, answer(remaining=3, reset=5), 200)
    assert [view.admit(r, 2, 100.2) for r in "bcd"] == [0, 0, 0]
    assert view.admit("e", 2, 100.2) > 0  # 3 left, 3 in flight: nothing more until the window ends


def test_slots_count_requests_in_flight_and_answers_take_the_lowest_remaining():
    view = QuotaView()
    view.admit("p", 1, 0.0)
    view.settle("p", 0.0, 0.05, answer(remaining=9, reset=5), 200)
    granted = [r for r in "abcdefghijk" if view.admit(r, 1, 0.1) == 0]
    assert granted == list("abcdefghi")
    # Someone else used the token: the answers say fewer remain than we thought.
    view.settle("a", 0.1, 0.2, answer(remaining=2, reset=5), 200)
    assert view.remaining == 2 and len(view.inflight) == 8
    assert view.admit("z", 1, 0.3) > 0


def test_the_window_end_is_narrowed_by_every_answer_and_the_next_window_is_probed_after_it():
    view = QuotaView()
    view.admit("p", 1, 10.0)
    view.settle("p", 10.0, 10.02, answer(remaining=9, reset=5), 200)  # end in (14.0, 15.02]
    assert (view.reset_lo, view.reset_hi) == pytest.approx((14.0, 15.02))
    view.admit("a", 1, 10.5)
    view.settle("a", 10.5, 10.52, answer(remaining=8, reset=4), 200)  # end in (13.5, 14.52]
    assert (view.reset_lo, view.reset_hi) == pytest.approx((14.0, 14.52))
    for n in range(8):
        assert view.admit(f"x{n}", 1, 11.0) == 0
        view.settle(f"x{n}", 11.0, 11.01, answer(remaining=7 - n, reset=4), 200)
    wait = view.admit("late", 1, 12.0)
    assert 2.5 < wait <= 2.53  # sleeps to the latest possible end, not a whole second more
    assert view.admit("late", 1, 14.53) == 0  # the probe of the new window
    assert view.admit("other", 2, 14.53) > 0  # waits for the probe's answer
    view.settle("late", 14.53, 14.55, answer(remaining=9, reset=5), 200)
    assert view.remaining == 9 and view.reset_hi == pytest.approx(19.55)
    assert view.admit("other", 2, 14.56) == 0


def test_a_late_answer_from_an_ended_window_does_not_spoil_the_new_one():
    view = QuotaView()
    view.admit("p", 1, 0.0)
    view.settle("p", 0.0, 0.01, answer(remaining=9, reset=5), 200)
    view.admit("slow", 1, 0.5)
    view.admit("probe", 1, 5.1)
    view.settle("probe", 5.1, 5.12, answer(remaining=9, reset=5), 200)
    view.settle("slow", 0.5, 5.2, answer(remaining=3, reset=1), 200)  # counted in the old window
    assert view.remaining == 9 and view.reset_hi == pytest.approx(10.12)


def test_a_429_blocks_everyone_until_retry_after_then_probes():
    view = QuotaView()
    view.admit("a", 1, 0.0)
    view.settle("a", 0.0, 0.1, answer(remaining=0, reset=300, retry_after=300), 429)
    assert view.admit("b", 1, 1.0) == pytest.approx(299.1)
    assert view.admit("b", 1, 300.2) == 0
    assert view.admit("c", 1, 300.2) > 0


def test_answers_without_headers_are_counted_against_cloudflares_documented_quota():
    view = QuotaView()
    view.admit("a", 1, 0.0)
    view.settle("a", 0.0, 0.1, RateLimitInfo(), 502)
    assert view.headerless and view.remaining == 1199 and view.reset_hi == pytest.approx(300.1)
    view.admit("b", 1, 1.0)
    view.settle("b", 1.0, 1.1, RateLimitInfo(), 200)
    assert view.remaining == 1198


def test_lost_requests_count_as_sent_and_dead_forks_release_their_slots():
    view = QuotaView()
    view.admit("p", 1, 0.0)
    view.settle("p", 0.0, 0.01, answer(remaining=5, reset=5), 200)
    view.admit("lost", 7, 0.1)
    view.abandon("lost")
    assert view.remaining == 4 and not view.inflight
    view.admit("dead", 8, 0.2)
    view.prune(0.3, lambda pid: pid != 8)
    assert view.remaining == 3 and not view.inflight


def test_what_is_stored_is_counters_and_times_and_damage_gives_a_fresh_view():
    view = QuotaView()
    view.admit("p", 1, 0.0)
    view.settle("p", 0.0, 0.01, answer(remaining=5, reset=5), 200)
    view.admit("q", 42, 1.0)
    again = QuotaView.from_json(view.to_json())
    assert again.to_json() == view.to_json()
    assert set(view.to_json()) == set(QuotaView.FIELDS)
    for damaged in (None, [], {"inflight": {"x": "y"}}, {"remaining": "many"}):
        assert QuotaView.from_json(damaged).to_json() == QuotaView().to_json()


def test_every_view_the_rules_write_is_read_back_whole_and_absurd_values_are_not():
    now = 1_700_000_000.0
    view = QuotaView()
    view.admit("p", 1234, now)
    view.settle("p", now, now + 0.2, answer(remaining=0, reset=40, quota=1200, window=300.0, retry_after=40), 429)
    view.admit("q", 4321, now + 50)
    view.settle("q", now + 50, now + 50.1, RateLimitInfo(), 200)  # no headers: counted locally
    view.admit("r", 99, now + 51)
    stored = view.to_json()
    assert QuotaView.from_json(stored, now=now + 52).to_json() == stored
    for field, absurd in (("quota", 0), ("window", 1e9), ("remaining", -1), ("reset_hi", now + 3 * 86400),
                          ("blocked_until", float("inf")), ("headerless", 1), ("inflight", {"r": [99, now, 0]})):
        assert QuotaView.from_json(dict(stored, **{field: absurd}), now=now).to_json() == QuotaView().to_json()


def test_a_window_end_no_answer_could_give_is_forgotten():
    view = QuotaView(quota=10, window=5.0, reset_lo=10_000.0, reset_hi=10_001.0, remaining=0)
    assert view.admit("a", 1, 100.0) == 0  # clock went back: start over with a probe
