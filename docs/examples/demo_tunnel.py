"""`make demo`, optional last step: bring a real IKEv2 session up with the key the example playbook handed on.

Runs only as root with strongSwan (charon, swanctl) and network namespaces available; otherwise it says
why and leaves the rendered config as the demo's result. Two namespaces joined by a veth pair: "edge"
plays Cloudflare, "router" is configured by rotate_and_configure_strongswan.yml. The lab has its own
emulator whose tunnel's endpoints are the namespaces' addresses (TEST-NET-1, inside the namespaces only).
"""

from __future__ import annotations

import os

from cf_emulator import Emulator
from lab.ipsec_handoff import Handoff, HandoffFailed, lab_seed
from lab.ipsec_lab import IpsecLab, missing_requirements
from lab.playbooks import PlaybookRunner


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
    print(f"CHILD_SA:              {evidence.child_note}")
    print(f"keys in any output:    {handoff.key_leaks()}")
    return 0 if handoff.key_leaks() == 0 else 1
