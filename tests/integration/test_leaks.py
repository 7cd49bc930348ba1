"""No channel shows a key, the token or the Global API key, in any scenario; masking never corrupts the key.

The rows run in groups (tests/reliability/leaks.py, LEAK_GROUPS): rows that share ansible-playbook's arguments
and environment are the plays of one playbook, each against its own emulator; every row keeps every channel of
its own, recorded and asserted one by one. On ansible-core 2.19 the groups run with the
setting that keeps its runs of several plays from hanging (reliability.common.SEVERAL_PLAYS_ENV)."""

from __future__ import annotations

import pytest

from reliability.leaks import CHANNELS, GROUPS, run_leak_group
from reliability.record import record

pytestmark = pytest.mark.slow(reason=(
    "each group is six ansible-playbook runs (-v0 to -vvvv, and ansible-runner as AWX runs it) of up to nine "
    "rows' plays, every channel of each searched"))


@pytest.mark.parametrize("rows", [rows for _name, rows in GROUPS], ids=[name for name, _rows in GROUPS])
def test_leaks(rows, playbooks, tmp_path):
    outcomes = run_leak_group(rows, playbooks, tmp_path)
    failures = []
    for name, seen in outcomes.items():
        record("leaks", scenario=name, keys_ok=seen.keys_ok, **{c: seen.hits[c] for c in CHANNELS})
        assert set(seen.hits) == set(CHANNELS)
        leaking = sorted(c for c, n in seen.hits.items() if n)
        if leaking:
            failures.append(f"{name}: secrets shown in {leaking}")
        if not seen.keys_ok:
            failures.append(f"{name}: a router task did not get exactly its tunnel's edge key")
    seen = next(iter(outcomes.values()))
    assert seen.runner_events > 0, "ansible-runner wrote no job events"
    assert seen.syslog_lines > 0, "no syslog line was captured"
    assert seen.ipsec_psk_syslog_lines == 0, "ipsec_psk ran on the target"
    assert sorted(outcomes) == sorted(row.name for row in rows)
    assert not failures, "\n".join(failures)
