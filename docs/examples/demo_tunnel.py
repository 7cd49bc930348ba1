"""`make demo`, optional last step: bring a real IKEv2 tunnel up with the key the example playbook handed on.

Runs only as root with strongSwan (charon, swanctl, kernel-libipsec) and network namespaces available;
otherwise it says why and leaves the rendered config as the demo's result. Two namespaces joined by a veth
pair: "edge" plays Cloudflare, "router" is configured by rotate_and_configure_strongswan.yml. The lab has
its own emulator whose tunnel's endpoints are the namespaces' addresses (TEST-NET-1, inside the namespaces
only). UDP echoes cross the tunnel between its inside addresses, also while a rotation switches keys.
"""

from __future__ import annotations

import os
import time

from cf_emulator import Emulator
from lab import rotation_traffic
from lab.ipsec_handoff import Handoff, HandoffFailed, lab_seed
from lab.ipsec_lab import IpsecLab, missing_requirements
from lab.playbooks import PlaybookRunner
from lab.udp_echo import EchoTraffic


def main(root, out, config):
    """Called by demo.py after the config was rendered; returns the demo's exit status.

    The lab runs its own emulator, seeded with the namespaces' addresses.
    """

    print("\n==> A real IKE session with the handed-on key")
    reason = missing_requirements()
    if reason:
        print(f"skipped: {reason}. The rendered router config is {config.relative_to(root)}.")
        return 0
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = str(out / "collections")
    with IpsecLab(out / "ike-lab") as lab:
        emulator = Emulator(seed=lab_seed(lab), tls=True, state_dir=str(out / "ike-lab" / "emulator")).start()
        try:
            handoff = Handoff(lab, emulator, PlaybookRunner(out / "ike-lab" / "run", emulator))
            try:
                evidence = handoff.run_all()
                with EchoTraffic(lab, out / "ike-lab" / "rotation.trace") as traffic:
                    time.sleep(1)
                    rotation = rotation_traffic.make_before_break(handoff, traffic)
            except HandoffFailed as failed:
                print(f"FAILED: {failed}")
                return 1
        finally:
            emulator.stop()
    print(f"edge {lab.edge.address} (plays Cloudflare) <-> router {lab.router.address}, namespaces removed again")
    print(f"after the hand-off:    {evidence.established}")
    for line in evidence.established_auth:
        print(f"                       {line}")
    print("stale key refused:     " + "\n                       ".join(evidence.refused_router + evidence.refused_edge))
    print(f"new key handed on:     {evidence.recovered}")
    print(f"CHILD_SA:              {evidence.child_sa}")
    print(f"through the tunnel:    {evidence.echoes[1]} of {evidence.echoes[0]} UDP echoes answered between the "
          f"inside addresses {lab.router.inner_address} and {lab.edge.inner_address}")
    counters = (f"{role} {packets_in}/{packets_out}" for role, (packets_in, packets_out) in evidence.counters.items())
    print("ESP packets (in/out):  " + ", ".join(counters))
    print(f"rotation under traffic (make-before-break, {rotation.seconds:.1f} s playbook run): lost "
          f"{rotation.lost} of {rotation.sent} echoes, longest gap {rotation.longest_gap * 1000:.0f} ms")
    print(f"keys in any output:    {handoff.key_leaks()}")
    return 0 if handoff.key_leaks() == 0 and rotation.returncode == 0 else 1
