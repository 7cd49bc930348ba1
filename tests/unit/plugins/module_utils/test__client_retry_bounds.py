from __future__ import annotations


from ansible_collections.cloudflare.magic.plugins.module_utils._errors import ApiError, TransportError
from support.fakes import policy


def test_rate_limit_waits_are_bounded_by_the_cap_in_all_not_by_max_time():
    p = policy(max_time=180, rate_limit_max_wait=310)
    block = ApiError(429, [], "x", retry_after=300.0)
    assert p.wait_before_retry(block, 1, remaining=180) == 300.0
    assert p.wait_before_retry(block, 2, remaining=180, rate_limit_waited=300.0) is None


def test_a_readable_refusal_is_final_and_changed_nothing():
    refusal = ApiError(200, [], "success: false")
    assert policy().wait_before_retry(refusal, 1, 1000) is None
    assert not refusal.may_have_been_applied
    assert not ApiError(403, [{"code": 10000, "message": "m"}], "x").may_have_been_applied


def test_unreadable_answers_and_lost_answers_may_have_rotated_and_are_retried():
    for error in (ApiError(200, [], "html", readable=False), ApiError(524, [], "html", readable=False),
                  TransportError("reset", request_sent=True)):
        assert error.may_have_been_applied
        assert policy().wait_before_retry(error, 1, 1000) is not None
    assert not TransportError("refused", request_sent=False).may_have_been_applied
