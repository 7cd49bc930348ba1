"""Packets lost per key rotation, through the IKE lab's tunnel: make-before-break, close-and-initiate, stale key.

The lab (docs/examples/lab): two network namespaces, a charon each, "edge" playing Cloudflare with the key
in force at the emulator. 50 numbered UDP echoes a second cross the tunnel between its inside addresses
while the rotation playbook runs, each run forced (key older than psk_max_age 1s). Needs root, network
namespaces and strongSwan with kernel-libipsec; ``skip_reason()`` says why not when it cannot run.
"""

from __future__ import annotations

import time

from cf_emulator import Emulator
from lab import rotation_traffic
from lab.ipsec_handoff import EXAMPLE_PLAYBOOK, Handoff, lab_seed
from lab.ipsec_lab import IpsecLab, missing_requirements
from lab.udp_echo import EchoTraffic
from support.playbooks import PlaybookRunner

DEFAULT_PLAYBOOK = EXAMPLE_PLAYBOOK
HEADER = (f"{'hand-off':<20}{'run':>4}{'run s':>8}{'sent':>7}{'lost':>6}{'longest gap ms':>16}"
          f"{'SPI drops':>11}")


def skip_reason():
    return missing_requirements()


def line(rotation, number):
    return (f"{rotation.what:<20}{number:>4}{rotation.seconds:>8.1f}{rotation.sent:>7}{rotation.lost:>6}"
            f"{rotation.longest_gap * 1000:>16.0f}{rotation.spi_drops:>11}")


def total(rotations):
    lost, sent = sum(r.lost for r in rotations), sum(r.sent for r in rotations)
    gap = max(r.longest_gap for r in rotations)
    return (f"{rotations[0].what:<20} all {len(rotations)}: lost {lost} of {sent} packets, "
            f"longest gap {gap * 1000:.0f} ms, failed runs {sum(1 for r in rotations if r.returncode)}")


def measure(workdir, playbook, rotations, rate, report):
    """Run the lab; ``report`` gets each line of the table as soon as it is known."""
    with IpsecLab(workdir / "lab") as lab:
        emulator = Emulator(seed=lab_seed(lab), tls=True, state_dir=str(workdir / "emulator")).start()
        try:
            handoff = Handoff(lab, emulator, PlaybookRunner(workdir / "run", emulator), playbook=playbook)
            handoff.first_handoff()
            report(f"after the first hand-off: {handoff.evidence.child_sa}; {handoff.evidence.echoes[1]} of "
                   f"{handoff.evidence.echoes[0]} echoes answered")
            with EchoTraffic(lab, workdir / "echo.trace", rate=rate) as traffic:
                time.sleep(1)
                report(HEADER)
                results = {}
                for how in (rotation_traffic.make_before_break, rotation_traffic.baseline):
                    done = []
                    for number in range(1, rotations + 1):
                        done.append(how(handoff, traffic))
                        report(line(done[-1], number))
                    results[how] = done
                for done in results.values():
                    report(total(done))
                stale = rotation_traffic.stale_key(handoff, traffic)
            kept = stale.kept_by_make_before_break
            report("stale key: a rotation whose load failed left the router on the old key, its SAs up")
            report(f"  make-before-break re-authentication with the old key: refused, old SAs kept; lost {kept.lost} "
                   f"of {kept.sent}, longest gap {kept.longest_gap * 1000:.0f} ms")
            report(f"  IKE SA set up anew with the old key: refused, traffic down {stale.down:.1f} s in all; the next "
                   f"run (started {stale.down - stale.restore:.1f} s after the last echo) restored it "
                   f"{stale.restore:.1f} s after it started (run {stale.next_run.seconds:.1f} s)")
            report(f"keys in any playbook output: {handoff.key_leaks()}")
        finally:
            emulator.stop()
