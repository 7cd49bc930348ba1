"""Every invalid form of every option is refused before any request, naming the option, without a traceback,
and without saying that a key may have changed."""

from __future__ import annotations

import pytest

from reliability.bad_input import env_groups, run_bad_inputs
from reliability.record import record

GROUPS = env_groups()


@pytest.mark.parametrize("cases", GROUPS, ids=[f"{len(g)} cases, env {sorted(g[0].env) or 'as usual'}" for g in GROUPS])
def test_bad_inputs(cases, emulator, playbooks, tmp_path):
    outcomes = run_bad_inputs(cases, emulator, playbooks, tmp_path)
    wrong = []
    for case, seen in zip(cases, outcomes):
        record("bad_input", case=case.name, option=case.option, refused=seen.refused,
               names_option=seen.names_option, requests=seen.requests, traceback=seen.traceback, hits=seen.hits)
        if not (seen.refused and seen.names_option and seen.requests == 0 and not seen.traceback
                and not seen.says_key_may_have_changed):
            wrong.append(f"{case.name}: refused={seen.refused} requests={seen.requests} "
                         f"traceback={seen.traceback} may_have_changed={seen.says_key_may_have_changed} "
                         f"msg={seen.message[:300]}")
    assert all(seen.hits == 0 for seen in outcomes), "a credential was shown"
    assert not wrong, "\n".join(wrong)
