"""The fault matrix: each fault the emulator can inject on psk_generate, and what the task must make of it.

Outcomes a user can tell apart:
- ``recovered``: the task succeeded and the router task got exactly the key in force at the edge;
- ``unchanged``: the task failed saying the tunnel's key was not changed (and it was not);
- ``unknown``: the task failed saying the tunnel's key may have changed and must be rotated again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from cf_emulator import Fault

from reliability.common import FAST_RETRIES, has_traceback, keep_result_task, psk_posts, read_result, tunnel_id
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


def run_fault_case(case, emulator, playbooks, workdir):
    """Run ``case`` with real ansible-playbook; return what the user and the edge would see."""
    tid = tunnel_id(emulator)
    before = emulator.edge_psk(tid)
    for kind, extra in case.faults:
        emulator.push_fault(Fault(kind, match_path="/psk_generate", **extra))
    options = dict(FAST_RETRIES, ipsec_tunnel_id=tid, **case.options)
    untrusted = options.pop("ca_path", "trusted") is None
    task = rotate_task(emulator, **options)
    if untrusted:
        del task["cloudflare.magic.ipsec_psk"]["ca_path"]
    task["ignore_errors"] = True
    router_file, result_file = workdir / "router-psk", workdir / "result.json"
    run = playbooks.run(play(task, write_psk_task(router_file), keep_result_task(result_file)))
    if case.settle:
        time.sleep(case.settle)
    result = read_result(result_file)
    edge = emulator.edge_psk(tid)
    handed = router_file.read_text() if router_file.exists() else None
    message = str(result.get("msg", ""))
    if not result.get("failed") and run.returncode == 0 and handed is not None:
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
        key_unchanged_is_true=(edge == before) if outcome == "unchanged" else None,
        posts=len(psk_posts(emulator)),
        hits=run.hits(*emulator.generated_psks(), playbooks.token),
        traceback=has_traceback(run, result),
        message=message,
        says_ok=case.says in message,
    )
