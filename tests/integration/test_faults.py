"""Every fault the emulator can inject on psk_generate ends in the edge's key handed on, or in a clear
failure saying what happened to the tunnel's key; never a traceback, never a secret.

The cases run in groups (tests/reliability/faults.py, FAULT_GROUPS): each case is a play of one playbook against an
emulator of its own; every case keeps its own outcome, recorded and asserted one by one. On ansible-core 2.19 the
groups run with the setting that keeps its runs of several plays from hanging (reliability.common.SEVERAL_PLAYS_ENV)."""

from __future__ import annotations

import pytest

from reliability.faults import FAULT_GROUPS, group_name, run_fault_group
from reliability.record import record

pytestmark = pytest.mark.slow(reason=(
    "each group is one ansible-playbook run of nine cases' plays, one after the other, with the waits their faults "
    "ask for (Retry-After, delayed answers, timeouts)"))


def case_failures(case, seen):
    """What is wrong with one case's outcome, in words (nothing when it is right)."""
    if seen.hits:
        return ["a secret was shown"]
    if seen.traceback:
        return [f"a traceback: {seen.message}"]
    if seen.outcome != case.expect:
        return [f"{seen.outcome} instead of {case.expect}: {seen.message}"]
    if seen.outcome == "recovered" and not seen.key_handed_on_is_edge:
        return ["the router task did not get the key in force at the edge"]
    if seen.outcome != "recovered" and not seen.says_ok:
        return [f"the message does not say {case.says!r}: {seen.message}"]
    if seen.outcome == "unchanged" and not seen.key_unchanged_is_true:
        return ["the task said the key was not changed, but the edge key changed"]
    return []


@pytest.mark.parametrize("cases", FAULT_GROUPS, ids=[group_name(cases) for cases in FAULT_GROUPS])
def test_fault(cases, playbooks, tmp_path):
    returncode, outcomes = run_fault_group(cases, playbooks, tmp_path)
    failures = []
    for case in cases:
        seen = outcomes[case.name]
        record("faults", case=case.name, expect=case.expect, outcome=seen.outcome,
               key_handed_on_is_edge=seen.key_handed_on_is_edge, key_unchanged_is_true=seen.key_unchanged_is_true,
               posts=seen.posts, hits=seen.hits, traceback=seen.traceback)
        failures += [f"{case.name}: {failure}" for failure in case_failures(case, seen)]
    assert returncode == 0, "the playbook failed outside the rotation tasks (their errors are ignored)"
    assert not failures, "\n".join(failures)
