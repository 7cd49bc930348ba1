"""No channel shows a key, the token or the Global API key, in any scenario; masking never corrupts the key."""

from __future__ import annotations

import pytest

from reliability.leaks import CHANNELS, LEAK_SCENARIOS, run_leak_scenario
from reliability.record import record

pytestmark = pytest.mark.slow(reason=(
    "each row is six ansible-playbook runs (-v0 to -vvvv, and ansible-runner as AWX runs it), every "
    "channel of each searched"))


@pytest.mark.parametrize("scenario", LEAK_SCENARIOS, ids=[s.name for s in LEAK_SCENARIOS])
def test_leaks(scenario, emulator, playbooks, tmp_path):
    seen = run_leak_scenario(scenario, emulator, playbooks, tmp_path)
    record("leaks", scenario=scenario.name, keys_ok=seen.keys_ok, **{c: seen.hits[c] for c in CHANNELS})
    assert set(seen.hits) == set(CHANNELS)
    assert seen.runner_events > 0, "ansible-runner wrote no job events"
    assert seen.syslog_lines > 0, "no syslog line was captured"
    assert seen.ipsec_psk_syslog_lines == 0, "ipsec_psk ran on the target"
    leaking = {c: n for c, n in seen.hits.items() if n}
    assert not leaking, f"secrets shown in {sorted(leaking)}"
    ok = seen.keys_ok
    assert ok, "a router task did not get exactly its tunnel's edge key"
