"""The tunnel_psk role's strongSwan hand-off in the namespace lab: real charon on both sides.

"edge" plays Cloudflare (the key in force at the emulator); "router" is configured by the role through
docs/examples/rotate_and_configure_strongswan.yml. The role loads the key, re-authenticates make-before-break
and waits until an IKE SA of the new key carries the CHILD_SA (ESP in charon through kernel-libipsec).
Keys are compared, never printed.
"""

from __future__ import annotations

import time

import pytest

from cf_emulator.state import new_psk
from support.ike_lab import lab_handoff

pytestmark = pytest.mark.e2e


@pytest.fixture
def handoff(tmp_path):
    with lab_handoff(tmp_path, psk_generate_ipsec_id=False) as handoff:
        yield handoff


def test_handoff_brings_the_ike_sa_up_and_a_second_run_does_nothing(handoff):
    first = handoff.first_handoff()
    assert first.posts == 1 and ", ESTABLISHED, IKEv2" in handoff.evidence.established
    assert handoff.router_stamp() == handoff.edge_stamp()
    again = handoff.run_example("second run: nothing to do", load=True)
    assert again.posts == 0 and "changed=0" in again.stdout
    assert handoff.key_leaks() == 0, "a key appeared in ansible-playbook's output or log"


def test_verification_fails_the_run_whose_key_is_not_in_force_and_the_next_run_repairs(handoff):
    """The edge holds another key than the one this run handed on (as when an overlapping run rotated after
    it): the role's verification of the switch fails the run, and the stamp it wrote is marked unverified."""
    handoff.first_handoff()
    handoff.lab.configure_edge(handoff.evidence.ike_name, handoff.tunnel["cloudflare_endpoint"],
                               handoff.ipsec_id, new_psk())  # the edge moved on to a key no run handed on
    time.sleep(1.1)
    failed = handoff.run_example("rotation whose key the edge does not hold", load=True, expect_success=False,
                                 psk_max_age="1s", tunnel_psk_verify_timeout=9)
    assert failed.returncode != 0 and failed.posts == 1
    assert "failed at 'Fail, no IKE SA of the new key carries the CHILD_SA'" in failed.stdout, failed.stdout[-3000:]
    assert "marked unverified" in failed.stdout
    assert handoff.router_stamp() == "unverified"
    rerun, third = handoff.rerun_converges()
    assert rerun.posts == 1 and handoff.router_stamp() == handoff.edge_stamp()
    assert ", ESTABLISHED, IKEv2" in handoff.evidence.recovered
    assert third.posts == 0 and "changed=0" in third.stdout
    assert handoff.key_leaks() == 0, "a key appeared in ansible-playbook's output or log"
