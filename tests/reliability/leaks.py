"""The leak matrix: scenarios x channels, counting occurrences of every key the emulator ever answered
with, the token and the Global API key. Every cell must be zero; the router task must still get
exactly the key in force, even when a credential occurs inside that key."""

from __future__ import annotations

import json
import secrets as random_secrets
from dataclasses import dataclass, field

from cf_emulator import Emulator, Fault

from reliability.channels import VERBOSITIES, runner_run, syslog_env
from reliability.common import FAST_RETRIES, SEVERAL_PLAYS_ENV, tunnel_id
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
    task = rotate_task(emulator, api_base_url=emulator.base_url, **options)
    if untrusted:
        del task["cloudflare.magic.ipsec_psk"]["ca_path"]
    return dict(task, ignore_errors=True)


def _canary(workdir):
    """A module run on the target that logs its "Invoked with" line: proves the syslog capture is live."""
    return {"name": "Syslog canary", "ansible.builtin.stat": {"path": str(workdir)}}


def _build(scenario, emulator, playbooks, workdir):
    """The plays, environment and router files of ``scenario`` against its own ``emulator`` (every request names it
    in api_base_url); faults are pushed by ``run_leak_group``."""
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
        task = bulk_task(emulator, register="rotation", ipsec_tunnel_ids=ids, api_base_url=emulator.base_url,
                         **FAST_RETRIES)
        return play(dict(task, ignore_errors=True), write_bulk_keys_task(folder, "rotation")), env, {
            i: folder / i for i in ids}
    if scenario.shape == "own_psk":
        plays = play(_rotate(emulator, {"ipsec_tunnel_id": tid, "psk": "{{ vault_psk }}"}), write_psk_task(router))
        plays[0]["vars"] = {"vault_psk": "own-" + random_secrets.token_urlsafe(24)}
        return plays, env, {tid: router}
    if scenario.shape in ("info", "info_loop"):
        stamps = {"tunnel_nyc_01": "2026-01-01T00:00:00Z", "tunnel_lon_01": ""}
        task = info_task(emulator, register="rotation", max_age="90d", router_psk_generated_on=stamps,
                         api_base_url=emulator.base_url, **FAST_RETRIES)
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


# Rows that share ansible-playbook's arguments and environment run as the plays of one playbook: every process
# start (about a second of CPU for ansible-playbook, more for ansible-runner) is paid once per group and
# verbosity instead of once per row. Each row keeps its own emulator (its faults, keys and requests its own) and
# its own play, so what a channel shows is counted for the row whose play printed it (see _attribute).
LEAK_GROUPS = (
    ("faults", ("500 JSON, every attempt", "524 HTML, every attempt", "reset after, every attempt",
                "timeout after persisting", "truncated JSON, every attempt", "200 success: false",
                "200 HTML, every attempt", "TLS unknown CA", "error quoting the token and body")),
    # The 429 row last: the pacing state its answer leaves in the run's local temp holds no later play up.
    ("shapes", ("success", "bad input with credentials", "loop over 3 tunnels", "token inside the generated key",
                "bulk module, 3 tunnels", "own key given as psk", "error quoting the own key",
                "bulk module, error quoting the keys", "429 above the cap")),
    ("check mode", ("check mode", "bulk module check mode")),
    ("diff", ("--diff",)),
    ("Global API key", ("email + Global API key", "error quoting the Global API key")),
    ("module_defaults", ("module_defaults",)),
    # Only these two group names hold "info": the older core lines deselect them (`-k "not (test_leaks and info)"`).
    ("info", ("info module, every tunnel",)),
    ("info check mode loop", ("info module check mode, in a loop",)),
)


def _groups():
    by_name = {s.name: s for s in LEAK_SCENARIOS}
    groups = [(name, tuple(by_name.pop(row) for row in rows)) for name, rows in LEAK_GROUPS]
    assert not by_name, f"leak rows in no group: {sorted(by_name)}"
    for name, rows in groups:
        assert len({(r.args, r.env, r.shape == "module_defaults") for r in rows}) == 1, f"group {name}: rows differ"
        assert ("info" in name) == any(r.shape.startswith("info") for r in rows), f"group {name}: info in its name"
    return tuple(groups)


GROUPS = _groups()


@dataclass
class LeakOutcome:
    hits: dict  # channel -> occurrences of any secret
    keys_ok: bool  # every router file holds exactly its tunnel's edge key
    syslog_lines: int  # "Invoked with" lines captured in the group's runs (proves the channel was live)
    runner_events: int  # job events of the group's ansible-runner run
    ipsec_psk_syslog_lines: int  # lines logged on the target by ipsec_psk itself: none, it runs on the controller


class _Row:
    """One scenario of a group: its emulator, its folder, its play's name, and the secrets only it can show."""

    def __init__(self, scenario, index, workdir, playbooks):
        self.scenario = scenario
        self.play_name = f"Leak row: {scenario.name}"
        self.workdir = workdir / f"row-{index}"
        self.workdir.mkdir(parents=True)
        self.emulator = None
        self.hits = dict.fromkeys(CHANNELS, 0)
        self.keys_ok = True
        self.routers = {}
        self._playbooks = playbooks

    def start(self):
        self.emulator = Emulator(tls=True, state_dir=str(self.workdir / "emulator")).start()
        if self.scenario.psk_holds_token:
            token = self._playbooks.token
            self.emulator.push_fault(Fault("force_psk", psk=f"x{token}-{token[:7]}"))

    def own_secrets(self):
        """Every key its emulator answered with or was sent (and the BGP MD5 keys, for an info row)."""
        md5_keys = self.emulator.bgp_md5_keys() if self.scenario.shape.startswith("info") else []
        return [*self.emulator.generated_psks(), *sent_psks(self.emulator), *md5_keys]

    def plays(self):
        tid = tunnel_id(self.emulator)
        for kind, extra in self.scenario.faults:
            self.emulator.push_fault(Fault(kind, match_path=self.scenario.fault_path.format(tunnel=tid), **extra))
        plays, env, self.routers = _build(self.scenario, self.emulator, self._playbooks, self.workdir)
        plays[0]["name"] = self.play_name
        return plays, env

    def check_routers(self):
        """After a run: every router file holds exactly its tunnel's edge key, or, where no key may be handed on
        (a fault, check mode, an untrusted CA), none was written. The files are removed for the next run."""
        self.emulator.clear_faults()
        scenario = self.scenario
        expect_none = scenario.faults or "--check" in scenario.args or scenario.options.get("ca_path", 1) is None
        for tunnel, path in self.routers.items():
            edge = self.emulator.edge_psk(tunnel)
            if expect_none:
                self.keys_ok = self.keys_ok and not path.exists()
            else:
                self.keys_ok = self.keys_ok and path.exists() and edge is not None and path.read_text() == edge
            if path.exists():
                path.unlink()

    def outcome(self, lines, runner_events):
        return LeakOutcome(hits=self.hits, keys_ok=self.keys_ok, runner_events=runner_events,
                           syslog_lines=sum("Invoked with" in line for line in lines),
                           ipsec_psk_syslog_lines=sum("ipsec_psk" in line for line in lines))


def _segments(text, names):
    """``text`` cut at the PLAY banners: {play name: its lines}; None holds the lines outside every named play
    (the start, the recap, warnings)."""
    parts, current = {None: []}, None
    for line in text.splitlines():
        if "PLAY [" in line:
            current = next((n for n in names if f"PLAY [{n}]" in line), None)
        elif "PLAY RECAP" in line:
            current = None
        parts.setdefault(current, []).append(line)
    return {name: "\n".join(lines) for name, lines in parts.items()}


def _count(text, secrets):
    return sum(text.count(s) for s in secrets if s)


def _attribute(rows, channel, pieces, shared):
    """Add what ``pieces`` ((play name or None, text) pairs) show to each row's ``channel``: the row's own secrets
    wherever they are, and the shared credentials where the row's play printed them; a credential outside every
    row's play counts for every row of the group (a leak is never lost, at worst blamed on more than one row)."""
    for row in rows:
        own = row.own_secrets()
        row.hits[channel] += sum(_count(text, own) for _name, text in pieces)
        row.hits[channel] += sum(_count(text, shared) for name, text in pieces if name in (None, row.play_name))


def run_leak_group(scenarios, playbooks, workdir):
    """Run the rows ``scenarios`` as one playbook at each verbosity and through ansible-runner; return
    {scenario name: LeakOutcome}."""
    rows = [_Row(scenario, index, workdir, playbooks) for index, scenario in enumerate(scenarios)]
    try:
        for row in rows:
            row.start()
        return _run_group(rows, playbooks, workdir)
    finally:
        for row in rows:
            if row.emulator is not None:
                row.emulator.stop()


def _run_group(rows, playbooks, workdir):
    args = rows[0].scenario.args
    shared = [playbooks.token, playbooks.emulator.user("global_key")["api_key"]]
    names = [row.play_name for row in rows]
    capture = workdir / "syslog.txt"
    events = 0
    for verbosity in (*VERBOSITIES, "runner"):
        plays, env = [], None
        for row in rows:
            row_plays, env = row.plays()
            plays += row_plays
        if verbosity == VERBOSITIES[0]:
            # One run of the six proves the capture live: a module run costs a Python process.
            plays[0]["tasks"].append(_canary(workdir))
        env = syslog_env(capture, env)
        # Each run its own rate-limit pacing state: a 429 row's block must not hold up the next run.
        env["ANSIBLE_LOCAL_TEMP"] = str(workdir / f"pacing-{verbosity}" / "ansible-tmp")
        env.update(SEVERAL_PLAYS_ENV)
        if verbosity == "runner":
            pieces, events = runner_pieces(playbooks, plays, workdir, env, args, names)
            _attribute(rows, "runner events", pieces, shared)
        else:
            run = playbooks.run(plays, *args, env=env, verbosity=verbosity)
            _attribute(rows, f"stdout -v{verbosity}", [*_segments(run.stdout, names).items(), (None, run.stderr)],
                       shared)
            _attribute(rows, "log_path", list(_segments(run.log_text, names).items()), shared)
        for row in rows:
            row.check_routers()
    lines = capture.read_text().splitlines() if capture.exists() else []
    # Syslog lines name no play: a credential in them counts for every row.
    _attribute(rows, "target syslog", [(None, line) for line in lines], shared)
    return {row.scenario.name: row.outcome(lines, events) for row in rows}


def runner_pieces(playbooks, plays, workdir, env, args, names):
    """The group's plays through ansible-runner (as AWX runs them): its stdout cut at the PLAY banners, and each
    job event with the play it belongs to (None for the playbook's own events); and the number of job events."""
    artifacts = runner_run(playbooks, plays, workdir, env, args)
    pieces = []
    for path in sorted(artifacts.rglob("*")):
        if not path.is_file():
            continue
        if path.name == "stdout":
            pieces += list(_segments(path.read_text(errors="replace"), names).items())
        elif path.parent.name == "job_events":
            text = path.read_text(errors="replace")
            try:
                play = json.loads(text).get("event_data", {}).get("play")
            except ValueError:
                play = None
            pieces.append((play if play in names else None, text))
    return pieces, sum(1 for _path in artifacts.rglob("job_events/*.json"))
