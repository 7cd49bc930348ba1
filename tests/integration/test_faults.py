"""Every fault the emulator can inject on psk_generate ends in the edge's key handed on, or in a clear
failure saying what happened to the tunnel's key; never a traceback, never a secret."""

from __future__ import annotations

import pytest

from reliability.faults import FAULT_CASES, run_fault_case
from reliability.record import record


@pytest.mark.parametrize("case", FAULT_CASES, ids=[c.name for c in FAULT_CASES])
def test_fault(case, emulator, playbooks, tmp_path):
    seen = run_fault_case(case, emulator, playbooks, tmp_path)
    record("faults", case=case.name, expect=case.expect, outcome=seen.outcome,
           key_handed_on_is_edge=seen.key_handed_on_is_edge, key_unchanged_is_true=seen.key_unchanged_is_true,
           posts=seen.posts, hits=seen.hits, traceback=seen.traceback)
    assert seen.hits == 0, "a secret was shown"
    assert not seen.traceback, seen.message
    assert seen.outcome == case.expect, seen.message
    if seen.outcome == "recovered":
        ok = seen.key_handed_on_is_edge
        assert ok, "the router task did not get the key in force at the edge"
    else:
        assert seen.says_ok, seen.message
    if seen.outcome == "unchanged":
        ok = seen.key_unchanged_is_true
        assert ok, "the task said the key was not changed, but the edge key changed"
