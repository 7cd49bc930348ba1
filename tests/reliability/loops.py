"""The loop x callback matrix: one registered ipsec_psk task loops over tunnels, a router play takes each
item's key from the registered results, and every callback's output is searched for every key the
emulator answered with and for the token. One more item fails on an error that quotes the request's
Authorization header (the emulator's echo_request fault), so a failed item's fields are searched too.
Run on the oldest release of every admitted core line.
A second row per callback does the same for an ipsec_tunnel_info loop over tunnels with a BGP MD5 key."""

from __future__ import annotations

import json
from dataclasses import dataclass

from cf_emulator import Fault

from reliability.callbacks import collections_path
from reliability.common import FAST_RETRIES
from support.info import info_task, save_report_task
from support.playbooks import rotate_task, seed_account

TUNNELS = 2
ROUTER = "router"  # a second inventory host, so that tree's per-host file keeps the rotation's own result
ROTATE = "Rotate the tunnels' keys"


def plays(emulator, workdir, names):
    rotate = dict(rotate_task(emulator, ipsec_tunnel_name="{{ item }}", **FAST_RETRIES), name=ROTATE, loop=names,
                  ignore_errors=True)
    handoff = {"name": "Hand each key to the router", "ansible.builtin.copy": {
        "content": "{{ item.psk }}", "dest": f"{workdir}/router-{{{{ item.ipsec_tunnel_id }}}}", "mode": "0600"},
        "loop": "{{ hostvars['localhost'].rotation.results }}", "loop_control": {"label": "{{ item.item }}"},
        "no_log": True, "when": "item.psk is defined"}
    return [{"name": "Rotate", "hosts": "localhost", "gather_facts": False, "tasks": [rotate]},
            {"name": "Configure the router", "hosts": ROUTER, "gather_facts": False, "tasks": [handoff]}]


@dataclass
class LoopOutcome:
    returncode: int
    keys: int  # keys the emulator answered with during the run
    hits: dict  # channel (stdout+stderr, log_path, callback files) -> occurrences of any key or the token
    files: int  # files the callback wrote
    callback_saw_rotation: bool  # the callback's output covers the rotation task (so the search means something)
    echo_failed: bool  # the echoed item failed (so its error fields were there to search)
    keys_ok: bool  # every router file holds exactly its tunnel's edge key


def cells(callbacks, run, folder, count, saw, **outcome):
    """One LoopOutcome per callback of the run ``callbacks`` (a CallbackRun): stdout, stderr and log_path are the
    run's, the files each callback's own; ``saw(name, files, shown)`` says whether that callback covered the task
    under test (so that its search means something)."""
    result = {}
    for name, (files, shown) in callbacks.shown(run.stdout, folder).items():
        result[name] = LoopOutcome(
            returncode=run.returncode, files=len(files), callback_saw_rotation=saw(name, files, shown),
            hits={"stdout, stderr": count(run.stdout + run.stderr), "log_path": count(run.log_text),
                  "callback files": sum(count(t) for t in files.values())}, **outcome)
    return result


def saw_task(task, tree_saw=bool):
    """``saw`` for ``cells``: the callback shows ``task``; tree, whose files name no task, wrote what
    ``tree_saw`` accepts."""
    return lambda name, files, shown: task in shown or (name == "ansible.builtin.tree" and tree_saw(files))


def run_loop_cell(callbacks, emulator, playbooks, workdir, verbosity=3):
    tunnels = seed_account(emulator)["tunnels"][:TUNNELS]
    echoed = seed_account(emulator)["tunnels"][TUNNELS]  # its rotation fails, quoting the token
    emulator.push_fault(Fault("echo_request", times=None, match_path=f"/{echoed['id']}/psk_generate"))
    folder = workdir / "callback-output"
    env = dict(callbacks.environment(folder), ANSIBLE_COLLECTIONS_PATH=collections_path())
    names = [t["name"] for t in tunnels] + [echoed["name"]]
    run = playbooks.run(plays(emulator, workdir, names), "-i", f"{ROUTER},",
                        env=env, verbosity=verbosity)
    secrets = [*emulator.generated_psks(), playbooks.token]

    def count(text):
        return sum(text.count(s) for s in secrets if s)
    routers = [(workdir / f"router-{t['id']}", emulator.edge_psk(t["id"])) for t in tunnels]
    keys_ok = all(edge is not None and path.exists() and path.read_text() == edge for path, edge in routers)
    keys_ok = keys_ok and emulator.edge_psk(echoed["id"]) is None and not (workdir / f"router-{echoed['id']}").exists()
    return cells(callbacks, run, folder, count, saw_task(ROTATE, lambda files: "localhost" in files),
                 keys=len(emulator.generated_psks()), keys_ok=keys_ok,
                 echo_failed=any(r.fault == "echo_request" for r in emulator.requests))


INFO = "Report the tunnels' key ages"
INFO_TUNNELS = ("tunnel_nyc_01b", "tunnel_fra_01")  # the two seeded with a BGP MD5 key


def info_plays(emulator, workdir):
    """A registered ipsec_tunnel_info loop, one tunnel per item, and a task that keeps what it registered."""
    report = dict(info_task(emulator, register="reports", ipsec_tunnel_names=["{{ item }}"], max_age="90d",
                            **FAST_RETRIES), name=INFO, loop=list(INFO_TUNNELS))
    return [{"name": "Report", "hosts": "localhost", "gather_facts": False,
             "tasks": [report, save_report_task(workdir / "reports.json", "reports")]}]


def run_info_loop_cell(callbacks, emulator, playbooks, workdir, verbosity=3):
    """The same search for ipsec_tunnel_info: no MD5 key and no token in any channel (nor in the report the play
    kept, counted with each callback's files); ``keys_ok`` here means the registered loop holds one complete
    report per tunnel."""
    folder = workdir / "callback-output"
    env = dict(callbacks.environment(folder), ANSIBLE_COLLECTIONS_PATH=collections_path())
    run = playbooks.run(info_plays(emulator, workdir), env=env, verbosity=verbosity)
    secrets = [*emulator.bgp_md5_keys(), playbooks.token]

    def count(text):
        return sum(text.count(s) for s in secrets if s)
    saved = workdir / "reports.json"
    results = json.loads(saved.read_text())["results"] if saved.exists() else []
    reported = [r["ipsec_tunnels"][0]["name"] for r in results if r.get("ipsec_tunnels")]
    kept = count(saved.read_text()) if saved.exists() else 0
    result = cells(callbacks, run, folder, count, lambda name, files, shown: INFO in shown or "localhost" in files,
                   keys=len(reported), echo_failed=False, keys_ok=reported == list(INFO_TUNNELS))
    for seen in result.values():
        seen.hits["callback files"] += kept
    return result
