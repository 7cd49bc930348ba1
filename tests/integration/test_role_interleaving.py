"""Two overlapping runs of the strongSwan example (the tunnel_psk role), their writes forced into either order.

Run A rotates (key KA at TA), run B rotates (KB at TB); the emulator holds each answer back after the key is in
force (a ``delay_after_persist`` fault), so the order in which the two runs write the router is the test's. The
stamp travels in the same file as the key, so whichever write lands last brings its own stamp, and the next run
leaves the router holding the key in force. Keys are compared, never printed.
"""

from __future__ import annotations

import pytest

from cf_emulator import Emulator, Fault
from support.ipsec_example_runs import StrongswanRouter, seed_with_custom_identity

pytestmark = pytest.mark.slow(
    reason="two whole role runs that overlap on purpose: one is held at the emulator while the other completes")


@pytest.fixture
def router(tmp_path):
    emulator = Emulator(seed=seed_with_custom_identity(), tls=True, state_dir=str(tmp_path / "emulator")).start()
    try:
        yield StrongswanRouter(tmp_path, emulator)
    finally:
        emulator.stop()


def hold_answer(router, seconds):
    """The next psk_generate for the router's tunnel is answered ``seconds`` after its key is in force."""
    router.emulator.push_fault(Fault(kind="delay_after_persist", delay=seconds,
                                     match_path=f"/ipsec_tunnels/{router.tunnel['id']}/psk_generate"))


def next_run_converges(router):
    """The next run puts the key in force on the router (rotating once if it must); the one after does nothing."""
    nxt = router.run("next run")
    assert nxt.returncode == 0, nxt.run.stdout[-3000:]
    assert router.holds_key_in_force(), "the next run left the router without the key in force"
    assert router.stamp_is_edge_stamp(), f"stamp {router.stamp()!r} is not the edge's last_generated_on"
    quiet = router.run("the run after")
    assert (quiet.returncode, quiet.posts, quiet.recap_changed) == (0, 0, 0), quiet.run.stdout[-3000:]
    assert router.holds_key_in_force()
    assert router.key_leaks() == 0, "a key appeared in ansible-playbook's output or log"
    return nxt


def test_older_run_writes_last_and_the_next_run_repairs(router):
    """A rotates, B rotates and writes, then A's late write lands: the router holds KA with A's stamp TA."""
    hold_answer(router, 20)
    before = router.edge_stamp()
    a = router.start("A")
    ta = router.wait_for_new_edge_key(before)
    b_run = router.finish(router.start("B"))
    assert a["process"].poll() is None, "run A answered before run B finished: the interleaving was not forced"
    a_run = router.finish(a)
    assert (a_run.returncode, b_run.returncode) == (0, 0), a_run.run.stdout[-3000:] + b_run.run.stdout[-3000:]
    assert router.stamp() == ta, "the router does not record run A's stamp after A's late write"
    assert not router.holds_key_in_force(), "A's late write should have left the router with A's older key"
    nxt = next_run_converges(router)
    assert nxt.posts == 1, "the next run did not see the router's stamp behind Cloudflare's"


def test_newer_run_writes_last_and_the_next_run_sends_nothing(router):
    """A rotates, B rotates, A writes, then B writes: the router holds KB/TB, the key in force."""
    hold_answer(router, 15)
    hold_answer(router, 22)
    before = router.edge_stamp()
    a = router.start("A")
    ta = router.wait_for_new_edge_key(before)
    b = router.start("B")
    tb = router.wait_for_new_edge_key(ta)
    a_run = router.finish(a)
    assert b["process"].poll() is None, "run B finished before run A: the interleaving was not forced"
    b_run = router.finish(b)
    assert (a_run.returncode, b_run.returncode) == (0, 0), a_run.run.stdout[-3000:] + b_run.run.stdout[-3000:]
    assert router.stamp() == tb and router.holds_key_in_force()
    nxt = next_run_converges(router)
    assert (nxt.posts, nxt.recap_changed) == (0, 0)
