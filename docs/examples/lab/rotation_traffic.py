"""Key rotations under steady traffic: what each switch costs in lost packets, and a router left on a stale key.

Each rotation is one full run of the rotation playbook (forced: the key is older than ``psk_max_age: 1s``)
while ``EchoTraffic`` sends 50 numbered UDP packets a second between the tunnel's inside addresses. The
trace, cut at the run's start and end, gives the packets lost and the longest gap between two echoes.

Two ways to switch: the playbook's own (load, then make-before-break re-authentication), and close-and-
initiate (the load command also closes the IKE SA, so the playbook finds none to re-authenticate and brings
the tunnel up anew: the hand-off the strongSwan example used before make-before-break).
Shared by tests/integration/test_ike_e2e.py, ``make demo`` and ``make bench``.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass

from .ipsec_handoff import CHILD_NAME, HandoffFailed

SETTLE = 1.0  # seconds after a run in which late echoes still count, and the old SAs are gone


@dataclass
class Rotation:
    what: str
    returncode: int
    seconds: float  # the ansible-playbook run
    sent: int  # packets sent during the run
    lost: int
    longest_gap: float  # seconds
    # ESP packets the router or the edge dropped because no SA had their SPI (yet): the edge, as responder,
    # sends on the new CHILD_SA as soon as it answers IKE_AUTH; the router installs it on reading that answer.
    spi_drops: int = 0


@dataclass
class StaleKey:
    """A router that missed a rotation: what its re-authentications cost, and how the next run repairs it."""

    kept_by_make_before_break: Rotation  # the refused make-before-break re-authentication, old SAs still up
    down: float  # seconds without an echo: from the IKE SA set up anew with the old key until the next run's
    restore: float  # seconds from the start of the next run to the first echo through the tunnel
    next_run: Rotation


def close_and_initiate(handoff):
    """The load command of the close-and-initiate hand-off: load, then close the IKE SA of the old key."""
    router = handoff.lab.router
    terminate = ["swanctl", "--terminate", "--ike", handoff.evidence.ike_name, "--timeout", "10", "--uri", router.vici]
    return ["sh", "-c", f"{shlex.join(router.load_command())} && {{ {shlex.join(terminate)} || true; }}"]


def rotate(handoff, traffic, what, expect_success=True, **run_vars):
    """One forced rotation under traffic; the Rotation as the trace shows it."""
    staged = handoff.stage_next_key()
    time.sleep(1.1)  # the key in force becomes older than psk_max_age
    marks = _log_marks(handoff.lab)
    start = time.monotonic()
    run = handoff.run_example(what, load=True, expect_success=expect_success, psk_max_age="1s", **run_vars)
    end = time.monotonic()
    handoff.check_edge_holds_key_in_force(staged)
    time.sleep(SETTLE)
    window = traffic.read().window(start, end, settle=SETTLE)
    return Rotation(what, run.returncode, end - start, window.sent, window.lost, window.longest_gap,
                    _spi_drops(handoff.lab, marks))


def _log_marks(lab):
    return {node.role: len(node.log()) for node in (lab.router, lab.edge)}


def _spi_drops(lab, marks):
    return sum(node.unknown_spi_drops(marks[node.role]) for node in (lab.router, lab.edge))


def make_before_break(handoff, traffic):
    return rotate(handoff, traffic, "make-before-break")


def baseline(handoff, traffic):
    load = close_and_initiate(handoff)
    return rotate(handoff, traffic, "close-and-initiate", tunnel_psk_swanctl_load_command=load)


def stale_key(handoff, traffic, reauth_wait=5.0, down_before_next_run=2.0):
    """A rotation whose load fails leaves the router on the old key with its SAs up. Then:
    1. charon re-authenticates make-before-break: the edge refuses the old key, the old SAs stay up;
    2. the IKE SA is set up anew (DPD restart, a reboot, a re-authentication that deletes first): refused,
       traffic stops;
    3. the next run sees the stale stamp, rotates, hands the key on: traffic flows again."""
    router, ike_name = handoff.lab.router, handoff.evidence.ike_name
    failed = rotate(handoff, traffic, "rotation whose load fails", expect_success=False,
                    load_command=["sh", "-c", "exit 1"])
    if failed.returncode == 0:
        raise HandoffFailed("the rotation whose load fails did not fail the run")

    marks = _log_marks(handoff.lab)
    start = time.monotonic()
    router.swanctl("--rekey", "--reauth", "--ike", ike_name)
    time.sleep(reauth_wait)
    window = traffic.read().window(start, time.monotonic() - SETTLE, settle=SETTLE)
    kept = Rotation("make-before-break re-authentication, old key", 0, reauth_wait, window.sent, window.lost,
                    window.longest_gap, _spi_drops(handoff.lab, marks))

    router.swanctl("--terminate", "--ike", ike_name, "--timeout", "10", check=False)
    router.swanctl("--initiate", "--ike", ike_name, "--child", CHILD_NAME, "--timeout", "10", check=False)
    time.sleep(down_before_next_run)
    if handoff.lab.wait_for_child(router, ike_name, CHILD_NAME, timeout=0.1) is not None:
        raise HandoffFailed("the old key brought a CHILD_SA up although the edge holds a newer one")

    staged = handoff.stage_next_key()
    marks = _log_marks(handoff.lab)
    run_start = time.monotonic()
    run = handoff.run_example("next run: stale stamp, rotate and hand on", load=True)
    run_end = time.monotonic()
    handoff.check_edge_holds_key_in_force(staged)
    time.sleep(SETTLE)
    trace = traffic.read()
    before = max((at for at in trace.answered.values() if at < run_start), default=None)
    after = min((at for at in trace.answered.values() if at >= run_start), default=None)
    if before is None or after is None:
        raise HandoffFailed("no echo before the stale key, or none after the next run")
    window = trace.window(run_start, run_end, settle=SETTLE)
    next_run = Rotation("next run", run.returncode, run_end - run_start, window.sent, window.lost,
                        window.longest_gap, _spi_drops(handoff.lab, marks))
    return StaleKey(kept, after - before, after - run_start, next_run)
