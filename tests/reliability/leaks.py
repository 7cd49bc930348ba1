"""The leak matrix: scenarios x channels, counting occurrences of every key the emulator ever answered
with, the token and the Global API key. Every cell must be zero; the router task must still get
exactly the key in force, even when a credential occurs inside that key."""

from __future__ import annotations

import json
import secrets as random_secrets
from dataclasses import dataclass, field

from cf_emulator import Fault

from reliability.channels import VERBOSITIES, runner_text, syslog_env
from reliability.common import FAST_RETRIES, tunnel_id
from support.bulk import bulk_task, write_bulk_keys_task
from support.info import info_task, save_report_task
from support.playbooks import play, rotate_task, seed_account, write_psk_task

CHANNELS = tuple(f"stdout -v{n}" for n in VERBOSITIES) + ("log_path", "runner events", "target syslog")
ALWAYS = None


@dataclass(frozen=True)
class LeakScenario:
    name: str
    faults: tuple = ()  # (kind, {Fault fields}) on fault_path
    options: dict = field(default_factory=dict)
    args: tuple = ()  # extra ansible-playbook arguments
    env: str = "token"  # token | email_key
    shape: str = "single"  # single | loop | module_defaults | bad_input | bulk | own_psk | info
    psk_holds_token: bool = False
    fault_path: str = "/{tunnel}/psk_generate"  # where the faults fire; {tunnel} is the tunnel under test


ECHO = (("echo_request", {"times": ALWAYS}),)  # an error message that quotes the credentials and the body
BULK_PATH = "/magic/ipsec_tunnels/psk"


LEAK_SCENARIOS = (
    LeakScenario("success"),
    LeakScenario("check mode", args=("--check",)),
    LeakScenario("--diff", args=("--diff",)),
    LeakScenario("429 above the cap", (("rate_limited", {"retry_after": 300}),), {"rate_limit_max_wait": 1}),
    LeakScenario("500 JSON, every attempt", (("server_error_json", {"times": ALWAYS}),), {"retries": 1}),
    LeakScenario("524 HTML, every attempt", (("server_error_html", {"times": ALWAYS, "status": 524}),), {"retries": 1}),
    LeakScenario("reset after, every attempt", (("reset_after", {"times": ALWAYS}),), {"retries": 1}),
    LeakScenario("timeout after persisting", (("delay_after_persist", {"times": ALWAYS, "delay": 1.5}),),
                 {"retries": 1, "timeout": 0.5}),
    LeakScenario("truncated JSON, every attempt", (("truncated_json", {"times": ALWAYS}),), {"retries": 1}),
    LeakScenario("200 success: false", (("success_false", {}),)),
    LeakScenario("200 HTML, every attempt", (("html_200", {"times": ALWAYS}),), {"retries": 1}),
    LeakScenario("TLS unknown CA", options={"ca_path": None}),
    LeakScenario("bad input with credentials", shape="bad_input"),
    LeakScenario("loop over 3 tunnels", shape="loop"),
    LeakScenario("module_defaults", shape="module_defaults"),
    LeakScenario("email + Global API key", env="email_key"),
    LeakScenario("token inside the generated key", psk_holds_token=True),
    # Names without "ipsec_psk": the test folder, which holds the name, shows up in the target syslog.
    LeakScenario("bulk module, 3 tunnels", shape="bulk"),
    LeakScenario("bulk module check mode", args=("--check",), shape="bulk"),
    LeakScenario("own key given as psk", shape="own_psk"),
    # ipsec_tunnel_info over every tunnel, two of which carry a BGP MD5 key: those keys are searched for too.
    LeakScenario("info module, every tunnel", shape="info"),
    LeakScenario("info module check mode, in a loop", args=("--check",), shape="info_loop"),
    LeakScenario("error quoting the token and body", ECHO),
    LeakScenario("error quoting the Global API key", ECHO, env="email_key"),
    LeakScenario("error quoting the own key", ECHO, shape="own_psk", fault_path=BULK_PATH),
    LeakScenario("bulk module, error quoting the keys", ECHO, shape="bulk", fault_path=BULK_PATH),
)


def sent_psks(emulator):
    """Every key a request carried to the bulk endpoint, applied or not (an echoing fault applies none)."""
    found = []
    for request in emulator.requests:
        if request.method == "POST" and request.path.endswith(BULK_PATH):
            try:
                entries = json.loads(request.body or b"{}").get("psks") or []
            except ValueError:
                continue
            found += [e["psk"] for e in entries if isinstance(e, dict) and isinstance(e.get("psk"), str)]
    return found


def _rotate(emulator, options):
    options = dict(FAST_RETRIES, **options)
    untrusted = options.pop("ca_path", "trusted") is None
    task = rotate_task(emulator, **options)
    if untrusted:
        del task["cloudflare.magic.ipsec_psk"]["ca_path"]
    return dict(task, ignore_errors=True)


def _canary(workdir):
    """A module run on the target that logs its "Invoked with" line: proves the syslog capture is live."""
    return {"name": "Syslog canary", "ansible.builtin.stat": {"path": str(workdir)}}


def build(scenario, emulator, playbooks, workdir, canary=True):
    """The plays of ``scenario``; with ``canary``, the syslog canary last (one run of a row's six proves the capture
    live: a module run costs a Python process, six of them a row on every core line)."""
    plays, env, routers = _build(scenario, emulator, playbooks, workdir)
    if canary:
        plays[0]["tasks"].append(_canary(workdir))
    return plays, env, routers


def _build(scenario, emulator, playbooks, workdir):
    """The plays, environment and router files of ``scenario``; faults are pushed by ``run_leak_scenario``."""
    tid = tunnel_id(emulator)
    router = workdir / "router-psk"
    user = emulator.user("global_key")
    env = {}
    if scenario.env == "email_key":
        env = {"CLOUDFLARE_API_TOKEN": None, "CLOUDFLARE_EMAIL": user["email"], "CLOUDFLARE_API_KEY": user["api_key"]}
    if scenario.shape == "loop":
        ids = [t["id"] for t in seed_account(emulator)["tunnels"][:3]]
        task = _rotate(emulator, {"ipsec_tunnel_id": "{{ item }}"})
        task["loop"] = ids
        copy = {"name": "Router keys", "ansible.builtin.copy": {
            "content": "{{ item.psk }}", "dest": str(workdir) + "/router-{{ item.ipsec_tunnel_id }}", "mode": "0600"},
            "loop": "{{ rotation.results }}", "no_log": True, "when": "item.psk is defined"}
        return play(task, copy), env, {i: workdir / f"router-{i}" for i in ids}
    if scenario.shape == "module_defaults":
        env = {"CLOUDFLARE_API_TOKEN": None}
        plays = play(_rotate(emulator, {"ipsec_tunnel_id": tid}), write_psk_task(router))
        plays[0]["vars"] = {"vault_token": playbooks.token}
        plays[0]["module_defaults"] = {"cloudflare.magic.ipsec_psk": {"api_token": "{{ vault_token }}"}}
        return plays, env, {tid: router}
    if scenario.shape == "bulk":
        ids = [t["id"] for t in seed_account(emulator)["tunnels"][:3]]
        folder = workdir / "bulk-routers"
        task = bulk_task(emulator, register="rotation", ipsec_tunnel_ids=ids, **FAST_RETRIES)
        return play(dict(task, ignore_errors=True), write_bulk_keys_task(folder, "rotation")), env, {
            i: folder / i for i in ids}
    if scenario.shape == "own_psk":
        plays = play(_rotate(emulator, {"ipsec_tunnel_id": tid, "psk": "{{ vault_psk }}"}), write_psk_task(router))
        plays[0]["vars"] = {"vault_psk": "own-" + random_secrets.token_urlsafe(24)}
        return plays, env, {tid: router}
    if scenario.shape in ("info", "info_loop"):
        stamps = {"tunnel_nyc_01": "2026-01-01T00:00:00Z", "tunnel_lon_01": ""}
        task = info_task(emulator, register="rotation", max_age="90d", router_psk_generated_on=stamps, **FAST_RETRIES)
        if scenario.shape == "info_loop":
            task["cloudflare.magic.ipsec_tunnel_info"]["ipsec_tunnel_names"] = ["{{ item }}"]
            task["cloudflare.magic.ipsec_tunnel_info"]["router_psk_generated_on"] = {}
            task["loop"] = [t["name"] for t in seed_account(emulator)["tunnels"]]
        return play(task, save_report_task(workdir / "report.json", "rotation")), env, {}
    if scenario.shape == "bad_input":
        options = {"ipsec_tunnel_id": tid, "api_token": playbooks.token, "api_email": user["email"],
                   "api_key": user["api_key"]}
        return play(_rotate(emulator, options)), env, {}
    return play(_rotate(emulator, dict(scenario.options, ipsec_tunnel_id=tid)), write_psk_task(router)), env, {tid: router}


@dataclass
class LeakOutcome:
    hits: dict  # channel -> occurrences of any secret
    keys_ok: bool  # every router file holds exactly its tunnel's edge key
    syslog_lines: int  # "Invoked with" lines captured (proves the channel was live)
    runner_events: int
    ipsec_psk_syslog_lines: int  # lines logged on the target by ipsec_psk itself: none, it runs on the controller


def run_leak_scenario(scenario, emulator, playbooks, workdir):
    tid = tunnel_id(emulator)
    if scenario.psk_holds_token:
        emulator.push_fault(Fault("force_psk", psk=f"x{playbooks.token}-{playbooks.token[:7]}"))
    user = emulator.user("global_key")
    hits, capture = {}, workdir / "syslog.txt"
    log_hits = 0
    keys_ok = True
    for verbosity in (*VERBOSITIES, "runner"):
        for kind, extra in scenario.faults:
            emulator.push_fault(Fault(kind, match_path=scenario.fault_path.format(tunnel=tid), **extra))
        plays, env, routers = build(scenario, emulator, playbooks, workdir, canary=verbosity == VERBOSITIES[0])
        env = syslog_env(capture, env)
        # Each run its own rate-limit pacing state: a 429 scenario's block must not hold up the next run.
        env["ANSIBLE_LOCAL_TEMP"] = str(workdir / f"pacing-{verbosity}" / "ansible-tmp")

        def secrets():
            md5_keys = emulator.bgp_md5_keys() if scenario.shape.startswith("info") else []
            return [*emulator.generated_psks(), *sent_psks(emulator), playbooks.token, user["api_key"],
                    *md5_keys]
        if verbosity == "runner":
            text, events = runner_text(playbooks, plays, workdir, env, scenario.args)
            hits["runner events"] = sum(text.count(s) for s in secrets() if s)
        else:
            run = playbooks.run(plays, *scenario.args, env=env, verbosity=verbosity)
            hits[f"stdout -v{verbosity}"] = sum((run.stdout + run.stderr).count(s) for s in secrets() if s)
            log_hits += sum(run.log_text.count(s) for s in secrets() if s)
        emulator.clear_faults()
        for tunnel, path in routers.items():
            edge = emulator.edge_psk(tunnel)
            if scenario.faults or "--check" in scenario.args or scenario.options.get("ca_path", 1) is None:
                keys_ok = keys_ok and not path.exists()
            else:
                keys_ok = keys_ok and path.exists() and edge is not None and path.read_text() == edge
            if path.exists():
                path.unlink()
    hits["log_path"] = log_hits
    lines = capture.read_text().splitlines() if capture.exists() else []
    hits["target syslog"] = sum(line.count(s) for line in lines for s in secrets() if s)
    return LeakOutcome(hits=hits, keys_ok=keys_ok, syslog_lines=sum("Invoked with" in line for line in lines),
                       runner_events=events, ipsec_psk_syslog_lines=sum("ipsec_psk" in line for line in lines))
