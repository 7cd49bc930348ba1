"""The key hand-off proved by a real IKEv2 session: rotate, configure the router, authenticate, refuse, recover.

Shared by tests/integration/test_ike_e2e.py and ``make demo``. "edge" plays Cloudflare: it answers as the
tunnel's ``cloudflare_endpoint``, expects the router as the ``ipsec_id`` the API gives, and holds the key
the emulator put in force. Cloudflare switches to a new key the moment psk_generate answers; the lab does
the same by staging the next key on the edge and telling the emulator (a ``force_psk`` fault) to
generate exactly that key, so the router's handler never races the edge. Afterwards the emulator's
record says which key is in force, and the scenario checks the edge holds that one.
No key is ever printed: evidence holds strongSwan's lines, which carry identities, never keys.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from cf_emulator import Fault, default_seed
from cf_emulator.state import new_psk

from .udp_echo import EchoTraffic

EXAMPLE_PLAYBOOK = Path(__file__).resolve().parents[1] / "rotate_and_configure_strongswan.yml"
LAB_TUNNEL = {
    "id": "0b5e1ab0c0ffee00d15ea5e0000ca11e",
    "name": "lab_ike_01",
    "description": "IKE lab: both endpoints live in network namespaces",
    "interface_address": "10.252.9.0/31",
    "created_on": "2025-01-01T00:00:00.000000Z",
    "modified_on": "2025-01-01T00:00:00.000000Z",
    "allow_null_cipher": False,
    "replay_protection": False,
}
CHILD_NAME = "cloudflare"  # the template's child SA


class HandoffFailed(AssertionError):
    """A step of the hand-off did not do what it should; the message says which (never a key)."""


@dataclass
class Evidence:
    ike_name: str
    established: str = ""  # the IKE SA line swanctl --list-sas printed after the first hand-off
    established_auth: list = field(default_factory=list)  # charon's PSK authentication lines (router)
    refused_router: list = field(default_factory=list)  # AUTHENTICATION_FAILED at the initiator
    refused_edge: list = field(default_factory=list)  # the responder's MAC mismatch for the old key
    recovered: str = ""  # the IKE SA line after the new key was handed on
    child_note: str = ""  # charon's line for the CHILD_SA, or why it failed
    child_sa: str = ""  # the router's CHILD_SA line after the first hand-off (INSTALLED, ESP in UDP, cipher)
    echoes: tuple = (0, 0)  # (sent, answered) UDP echoes between the inside addresses after the first hand-off
    counters: dict = field(default_factory=dict)  # role -> (ESP packets in, out), swanctl --list-sas on each end
    keys_rotated: int = 0
    playbook_runs: list = field(default_factory=list)  # (what, returncode) of each ansible-playbook run


def lab_seed(lab):
    """The default seed plus one tunnel whose endpoints are the lab's namespace addresses. It has a custom
    remote identity, so the router's identity is known with or without ipsec_id in psk_generate's answer."""
    seed = default_seed()
    tunnel = copy.deepcopy(LAB_TUNNEL)
    tunnel.update(cloudflare_endpoint=lab.edge.address, customer_endpoint=lab.router.address,
                  custom_remote_identities={"fqdn_id": f"lab.{seed['accounts'][0]['id']}.custom.ipsec.cloudflare.com"})
    seed["accounts"][0]["tunnels"].append(tunnel)
    return seed


def _digest(value):
    return hashlib.sha256((value or "").encode()).hexdigest()


def _new_lines(node, since):
    return node.log()[since:].splitlines()


def _grep(lines, pattern):
    return [line for line in lines if re.search(pattern, line)]


class Handoff:
    """Runs the scenario step by step; each step returns what strongSwan printed."""

    def __init__(self, lab, emulator, runner, playbook=EXAMPLE_PLAYBOOK):
        self.lab = lab
        self.emulator = emulator
        self.runner = runner
        self.playbook = Path(playbook)
        self.tunnel = emulator.tunnel(LAB_TUNNEL["id"])
        self.ipsec_id = emulator.ipsec_id(LAB_TUNNEL["id"])
        self.evidence = Evidence(ike_name=f"cloudflare-{self.tunnel['name']}")
        self.runs = []
        self._keys = []  # every key put in force, only to count leaks; never shown
        lab.connect_inside(self.tunnel["interface_address"])  # the inside /31 from the tunnel, as Cloudflare has it

    # --- the edge, playing Cloudflare ------------------------------------------------------------
    def stage_next_key(self, edge_out_of_step=False):
        """Put the next key in force at the edge, and make the emulator generate that very key. With
        ``edge_out_of_step`` the edge gets yet another key: whatever the router is handed, the edge refuses."""
        key = new_psk()
        edge_key = new_psk() if edge_out_of_step else key
        self._keys += [key, edge_key]
        self.emulator.push_fault(Fault(kind="force_psk", psk=key,
                                       match_path=f"/ipsec_tunnels/{self.tunnel['id']}/psk_generate"))
        self.lab.configure_edge(self.evidence.ike_name, self.tunnel["cloudflare_endpoint"], self.ipsec_id, edge_key)
        return _digest(key)

    def router_holds_key_in_force(self):
        """Whether the router's swanctl.conf holds the key in force at the emulator (compared, never shown)."""
        config = self.lab.router.conf_dir / f"cloudflare-{self.tunnel['name']}.conf"
        match = re.search(r"^\s*secret = 0s(\S+)\s*$", config.read_text(), re.MULTILINE)
        return bool(match) and base64.b64decode(match.group(1)).decode() == self.emulator.edge_psk(self.tunnel["id"])

    def check_edge_holds_key_in_force(self, staged):
        if _digest(self.emulator.edge_psk(self.tunnel["id"])) != staged:
            raise HandoffFailed("the key in force at the emulator is not the one the edge holds")

    # --- the router, configured by the example playbook ------------------------------------------
    def run_example(self, what, load, load_command=None, expect_success=True, **more):
        extra = {
            "tunnel_name": self.tunnel["name"],
            "swanctl_conf_dir": str(self.lab.router.conf_dir),
            "cloudflare_ca_path": self.emulator.ca_file,
            "swanctl_load": load,
            "swanctl_load_command": load_command or self.lab.router.load_command(),
            "swanctl_options": ["--uri", self.lab.router.vici],
            # The lab's charon reads its own strongswan.conf (make_before_break = yes), checked by the preflight.
            "tunnel_psk_strongswan_conf": str(self.lab.router.dir / "strongswan.conf"),
            # The lab forces rotations with a max_age of 1s, under the floor that guards a scheduled job.
            "tunnel_psk_allow_short_max_age": True,
        }
        extra.update(more)
        posts_before = self.posts()
        run = self.runner.run(self.playbook, extra_vars=extra)
        run.posts = self.posts() - posts_before
        self.runs.append(run)
        self.evidence.playbook_runs.append((what, run.returncode, run.posts))
        if expect_success and run.returncode != 0:
            raise HandoffFailed(f"{what}: ansible-playbook exited {run.returncode}:\n{run.stdout[-3000:]}")
        self.evidence.keys_rotated += run.posts
        return run

    def posts(self):
        """psk_generate requests for the lab tunnel that the emulator recorded (validate_only excluded)."""
        return sum(1 for r in self.emulator.requests if r.method == "POST"
                   and r.path.endswith(f"/{self.tunnel['id']}/psk_generate") and r.query.get("validate_only") != "true")

    def router_stamp(self):
        """The stamp the router's configuration records next to its key (``# cloudflare.magic psk <stamp>``)."""
        config = self.lab.router.conf_dir / f"cloudflare-{self.tunnel['name']}.conf"
        if not config.exists():
            return None
        match = re.search(r"^# cloudflare\.magic psk (.*)$", config.read_text(), re.MULTILINE)
        return match.group(1).strip() if match else None

    def edge_stamp(self):
        return self.emulator.tunnel(self.tunnel["id"]).get("psk_metadata", {}).get("last_generated_on")

    def router_left_with_a_stale_key(self):
        """A scheduled rotation (key older than psk_max_age) whose load fails: charon keeps the old key, and
        the stamp written with the new key is marked unverified."""
        staged = self.stage_next_key()
        stamp_before = self.router_stamp()
        time.sleep(1.1)
        run = self.run_example("rotation whose load fails", load=True, load_command=["sh", "-c", "exit 1"],
                               expect_success=False, psk_max_age="1s")
        self.check_edge_holds_key_in_force(staged)
        # The key and its stamp were written together; the failed load marks that stamp unverified.
        if run.returncode == 0 or self.router_stamp() not in (stamp_before, "unverified"):
            raise HandoffFailed("the failed load did not fail the play, or the stamp moved without the key")
        self.lab.router.swanctl("--terminate", "--ike", self.evidence.ike_name, "--timeout", "10", check=False)
        router_mark = len(self.lab.router.log())
        self.lab.router.swanctl("--initiate", "--ike", self.evidence.ike_name, "--child", CHILD_NAME,
                                "--timeout", "15", check=False)
        self.evidence.refused_router = _grep(_new_lines(self.lab.router, router_mark), r"AUTHENTICATION_FAILED")
        return run

    def rerun_converges(self):
        """The next scheduled run sees the stale stamp, rotates once, loads, re-authenticates: ESTABLISHED."""
        staged = self.stage_next_key()
        rerun = self.run_example("rerun: stale stamp, rotate and hand on", load=True)
        self.check_edge_holds_key_in_force(staged)
        sa = self.lab.wait_for_state(self.lab.router, self.evidence.ike_name)
        if sa is None:
            raise HandoffFailed("the rerun did not bring the IKE SA back:\n" + self.lab.router.log()[-4000:])
        self.evidence.recovered = sa.line
        third = self.run_example("third run: nothing to do", load=True)
        return rerun, third

    def first_handoff(self):
        """Rotate; the example's follow-on task writes swanctl.conf, its handler loads it; charon starts the SA."""
        staged = self.stage_next_key()
        run = self.run_example("first rotation, handed on and loaded", load=True)
        self.check_edge_holds_key_in_force(staged)
        sa = self.lab.wait_for_state(self.lab.router, self.evidence.ike_name)
        if sa is None:
            raise HandoffFailed("the router's IKE SA did not reach ESTABLISHED:\n" + self.lab.router.log()[-4000:])
        self.evidence.established = sa.line
        self.evidence.established_auth = _grep(self.lab.router.log().splitlines(), r"with pre-shared key")
        self.evidence.child_note = self._child_note()
        self.traffic_flows()
        return run

    def traffic_flows(self, seconds=1.0):
        """A second of UDP echoes between the inside addresses; charon's packet counters on both ends."""
        sa = self.lab.wait_for_child(self.lab.router, self.evidence.ike_name, CHILD_NAME)
        if sa is None:
            raise HandoffFailed(f"no CHILD_SA {CHILD_NAME} INSTALLED: {self.evidence.child_note}")
        self.evidence.child_sa = next(line for line in sa.children if line.startswith(f"{CHILD_NAME}: "))
        with EchoTraffic(self.lab, self.lab.workdir / "echo-after-handoff.trace") as traffic:
            time.sleep(seconds)
        time.sleep(0.3)  # the last echoes come back
        window = traffic.read().window(0, time.monotonic())
        self.evidence.echoes = (window.sent, window.sent - window.lost)
        for node in (self.lab.router, self.lab.edge):
            sa = next(sa for sa in node.list_sas() if sa.name == self.evidence.ike_name and sa.state == "ESTABLISHED")
            self.evidence.counters[node.role] = (sa.packets_in, sa.packets_out)
        if self.evidence.echoes[1] == 0:
            raise HandoffFailed(f"no UDP echo crossed the tunnel ({window.sent} sent)")

    def stale_key_is_refused(self):
        """Rotate again without loading the new key into charon: the router's old key must be refused."""
        staged = self.stage_next_key()
        time.sleep(1.1)  # the router holds the key in force: only an age of more than psk_max_age rotates now
        self.run_example("second rotation, written but not loaded", load=False, psk_max_age="1s")
        self.check_edge_holds_key_in_force(staged)
        self.lab.router.swanctl("--terminate", "--ike", self.evidence.ike_name, "--timeout", "10", check=False)
        router_mark, edge_mark = len(self.lab.router.log()), len(self.lab.edge.log())
        self.lab.router.swanctl("--initiate", "--ike", self.evidence.ike_name, "--child", CHILD_NAME,
                                "--timeout", "15", check=False)
        self.evidence.refused_router = _grep(_new_lines(self.lab.router, router_mark), r"AUTHENTICATION_FAILED")
        self.evidence.refused_edge = _grep(_new_lines(self.lab.edge, edge_mark),
                                           r"MAC mismatched|AUTHENTICATION_FAILED")
        established = [sa for sa in self.lab.router.list_sas()
                       if sa.name == self.evidence.ike_name and sa.state == "ESTABLISHED"]
        if established:
            raise HandoffFailed("the router's old key still established an IKE SA: " + established[0].line)

    def new_key_brings_it_back(self):
        """Load what the follow-on task wrote (the handler's command): the new key must authenticate."""
        self.lab.router.load_all()
        self.lab.router.swanctl("--initiate", "--ike", self.evidence.ike_name, "--child", CHILD_NAME,
                                "--timeout", "15", check=False)
        sa = self.lab.wait_for_state(self.lab.router, self.evidence.ike_name)
        if sa is None:
            raise HandoffFailed("the new key did not bring the IKE SA back:\n" + self.lab.router.log()[-4000:])
        self.evidence.recovered = sa.line

    def key_leaks(self):
        """How often any key put in force occurs in what the playbook runs printed or logged."""
        return sum(run.hits(*self._keys) for run in self.runs)

    def run_all(self):
        self.first_handoff()
        self.stale_key_is_refused()
        self.new_key_brings_it_back()
        return self.evidence

    def _child_note(self):
        lines = self.lab.router.log().splitlines() + self.lab.edge.log().splitlines()
        installed = _grep(lines, r"CHILD_SA \S+ established")
        if installed:
            return installed[0].split("] ", 1)[-1]
        failed = _grep(lines, r"unable to install|failed to establish CHILD_SA|NO_PROPOSAL_CHOSEN|"
                              r"unable to allocate SPIs|failed to add SAD entry")
        return " / ".join(line.split("] ", 1)[-1] for line in failed[:3]) or "no CHILD_SA line in the logs"
