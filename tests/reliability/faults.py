"""The fault matrix: each fault the emulator can inject on psk_generate, and what the task must make of it.

Outcomes a user can tell apart:
- ``recovered``: the task succeeded and the router task got exactly the key in force at the edge;
- ``unchanged``: the task failed saying the tunnel's key was not changed (and it was not);
- ``unknown``: the task failed saying the tunnel's key may have changed and must be rotated again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from cf_emulator import Emulator, Fault

from reliability.common import (
    FAST_RETRIES, SEVERAL_PLAYS_ENV, has_traceback, keep_result_task, psk_posts, read_result, tunnel_id,
)
from support.playbooks import play, rotate_task, write_psk_task

ALWAYS = None  # Fault.times: fire on every matching request


@dataclass(frozen=True)
class FaultCase:
    name: str
    faults: tuple  # (kind, {Fault fields}) pushed in order, all on psk_generate
    expect: str  # recovered | unchanged | unknown
    options: dict = field(default_factory=dict)
    says: str = ""  # text the failure message must hold besides the key's fate
    settle: float = 0.0  # seconds to let a delayed request finish before reading the edge key


def _once(kind, **extra):
    return ((kind, dict(extra, times=1)),)


def _always(kind, **extra):
    return ((kind, dict(extra, times=ALWAYS)),)


HTML_STATUSES = (502, 520, 521, 522, 523, 524, 525, 526)

FAULT_CASES = (
    FaultCase("429 Retry-After 1 s, within the cap", _once("rate_limited", retry_after=1), "recovered"),
    FaultCase("429 Retry-After 300 s, above a 60 s cap", _once("rate_limited", retry_after=300), "unchanged",
              options={"rate_limit_max_wait": 60}, says="Retry after"),
    FaultCase("429 Retry-After 0 s, three times", (("rate_limited", {"times": 3, "retry_after": 0}),), "recovered"),
    FaultCase("500 JSON, twice", (("server_error_json", {"times": 2}),), "recovered"),
    FaultCase("500 JSON, every attempt", _always("server_error_json"), "unknown", options={"retries": 2}),
    *(FaultCase(f"{status} HTML page, once", _once("server_error_html", status=status), "recovered")
      for status in HTML_STATUSES),
    FaultCase("524 HTML page, every attempt", _always("server_error_html", status=524), "unknown",
              options={"retries": 2}),
    FaultCase("reset before persisting, once", _once("reset_before"), "recovered"),
    FaultCase("reset before persisting, every attempt", _always("reset_before"), "unknown", options={"retries": 2}),
    FaultCase("reset after persisting, once", _once("reset_after"), "recovered"),
    FaultCase("reset after persisting, every attempt", _always("reset_after"), "unknown", options={"retries": 2}),
    FaultCase("delay 1 s, timeout 5 s", _once("delay", delay=1.0), "recovered"),
    FaultCase("answer delayed 3 s after persisting, timeout 1 s", _once("delay_after_persist", delay=3.0),
              "recovered", options={"timeout": 1}, settle=2.5),
    FaultCase("delay 2.5 s before persisting, timeout 1 s, no retry", _once("delay", delay=2.5), "unknown",
              options={"timeout": 1, "retries": 0}, settle=2.0),
    FaultCase("truncated JSON, once", _once("truncated_json"), "recovered"),
    FaultCase("truncated JSON, every attempt", _always("truncated_json"), "unknown", options={"retries": 2}),
    FaultCase("200 with success: false", _once("success_false"), "unchanged"),
    FaultCase("200 with an HTML body, once", _once("html_200"), "recovered"),
    FaultCase("200 with an HTML body, every attempt", _always("html_200"), "unknown", options={"retries": 2}),
    FaultCase("TLS: unknown CA (no ca_path)", (), "unchanged", options={"ca_path": None},
              says="set ca_path"),
)


@dataclass
class FaultOutcome:
    outcome: str  # recovered | unchanged | unknown | failed-unclear
    key_handed_on_is_edge: bool | None  # None when no key was handed on
    key_unchanged_is_true: bool | None  # for "unchanged": the edge key really is the one from before
    posts: int
    hits: int
    traceback: bool
    message: str  # the failure message (never holds a secret: checked by ``hits``)
    says_ok: bool


# The cases run in groups: each case is a play of one playbook, against an emulator of its own (its faults, keys
# and requests its own) and with its own router and result files, so an ansible-playbook process start is paid once
# per group instead of once per case. A play's rotation task ignores its errors, so every case's play runs; what the
# run printed is searched for each case's own keys and for the shared token, which counts against every case of
# the group (a leak or a traceback is never lost, at worst blamed on more than one case). On ansible-core 2.19 the
# run needs SEVERAL_PLAYS_ENV (reliability.common says why).
GROUP_SIZE = 9
FAULT_GROUPS = tuple(FAULT_CASES[start:start + GROUP_SIZE] for start in range(0, len(FAULT_CASES), GROUP_SIZE))


def group_name(cases):
    """The test's id: which cases the group holds."""
    first, last = FAULT_CASES.index(cases[0]) + 1, FAULT_CASES.index(cases[-1]) + 1
    return f"cases {first} to {last}"


class _Case:
    """One case of a group: its emulator, its folder, and its play."""

    def __init__(self, case, index, workdir):
        self.case = case
        self.workdir = workdir / f"case-{index}"
        self.workdir.mkdir(parents=True)
        self.router_file, self.result_file = self.workdir / "router-psk", self.workdir / "result.json"
        self.emulator = Emulator(tls=True, state_dir=str(self.workdir / "emulator")).start()
        self.tid = tunnel_id(self.emulator)
        self.before = self.emulator.edge_psk(self.tid)

    def plays(self):
        for kind, extra in self.case.faults:
            self.emulator.push_fault(Fault(kind, match_path="/psk_generate", **extra))
        options = dict(FAST_RETRIES, ipsec_tunnel_id=self.tid, api_base_url=self.emulator.base_url, **self.case.options)
        untrusted = options.pop("ca_path", "trusted") is None
        task = rotate_task(self.emulator, **options)
        if untrusted:
            del task["cloudflare.magic.ipsec_psk"]["ca_path"]
        task["ignore_errors"] = True
        plays = play(task, write_psk_task(self.router_file), keep_result_task(self.result_file))
        plays[0]["name"] = f"Fault case: {self.case.name}"
        return plays

    def outcome(self, run, shared):
        """What the user and the edge would see of this case after ``run``."""
        result = read_result(self.result_file)
        edge = self.emulator.edge_psk(self.tid)
        handed = self.router_file.read_text() if self.router_file.exists() else None
        message = str(result.get("msg", ""))
        if not result.get("failed") and handed is not None:
            outcome = "recovered"
        elif "may have changed" in message and "Rotate it again" in message:
            outcome = "unknown"
        elif "was not changed" in message:
            outcome = "unchanged"
        else:
            outcome = "failed-unclear"
        return FaultOutcome(
            outcome=outcome,
            key_handed_on_is_edge=None if handed is None else (handed == edge and edge is not None),
            key_unchanged_is_true=(edge == self.before) if outcome == "unchanged" else None,
            posts=len(psk_posts(self.emulator)),
            hits=run.hits(*self.emulator.generated_psks(), *shared),
            traceback=has_traceback(run, result),
            message=message,
            says_ok=self.case.says in message,
        )


def run_fault_group(cases, playbooks, workdir):
    """Run ``cases`` as the plays of one real ansible-playbook run; return the run's return code and
    {case name: what the user and the edge would see}."""
    rows = []
    try:
        for index, case in enumerate(cases):
            rows.append(_Case(case, index, workdir))
        run = playbooks.run([p for row in rows for p in row.plays()], env=SEVERAL_PLAYS_ENV)
        # Let a request the emulator delays finish before the edge key is read.
        time.sleep(max(case.settle for case in cases))
        return run.returncode, {row.case.name: row.outcome(run, [playbooks.token]) for row in rows}
    finally:
        for row in rows:
            row.emulator.stop()
