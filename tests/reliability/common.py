"""What every reliability scenario needs: fast retry options, the tunnel under test, the user's view of a result."""

from __future__ import annotations

import json

from ansible.release import __version__ as ansible_core

from support.playbooks import seed_account

# Small backoff so that a matrix of retried faults stays fast; the bounds themselves keep their meaning.
FAST_RETRIES = {"retry_backoff": 0.05, "retry_backoff_max": 0.2, "timeout": 5}
TUNNEL_NAME = "tunnel_nyc_01"

# ansible-core 2.19.0 can hang a playbook of several plays: under load its results thread dies on a KeyError for a
# task of an earlier play (`self._queued_task_cache[queue_cache_entry]` in _convert_wire_task_result_to_raw), and
# ansible-playbook then waits for a result forever (ansible/ansible#85879 and #86027). How, in 2.19.0's code: at the
# end of each play it terminates every task worker still alive, at once (WORKER_SHUTDOWN_POLL_COUNT is 0); a worker
# inherits a SIGTERM handler that WorkerProcess.start installed in the parent for an earlier worker, whose
# os.killpg of that gone worker raises "No such process" inside the terminated one; caught while it was still in
# send_task_result, that sends a second result, "Task result omitted due to queue send failure" (the upstream
# report shows it), for a task the next play's results thread does not know. Polling the workers until they have
# ended on their own (every 0.1 s, up to 50 times) terminates none that is ending anyway. Six concurrent runs of
# the leak matrix's "faults" group on 2.19.0: 5, 0 and 0 hung without it, 0 in each of four tries with it
# (docs/testing.md). It changes nothing a task does or prints; the matrices that run several rows or cases as the
# plays of one playbook (leaks, faults) set it on 2.19.
SEVERAL_PLAYS_ENV = ({"ANSIBLE_WORKER_SHUTDOWN_POLL_COUNT": "50"}
                     if (2, 19) <= tuple(int(part) for part in ansible_core.split(".")[:2]) < (2, 20) else {})


def tunnel_id(emulator, name=TUNNEL_NAME):
    return next(t["id"] for t in seed_account(emulator)["tunnels"] if t["name"] == name)


def keep_result_task(path, var="rotation"):
    """A task that writes what the registered result shows apart from the key (msg, failed, exception...)."""
    content = "{{ %s | dict2items | rejectattr('key', 'equalto', 'psk') | items2dict | to_json }}" % var
    return {"name": "Keep the result without its key", "ansible.builtin.copy": {"content": content, "dest": str(path)}}


def read_result(path):
    return json.loads(path.read_text()) if path.exists() else {}


def psk_posts(emulator):
    return [r for r in emulator.requests if r.method == "POST" and r.path.endswith("/psk_generate")]


def has_traceback(run, result):
    """True when the run showed a Python traceback. ansible-core >= 2.19 puts an ``exception`` field in
    every failed result; it reads "(traceback unavailable)" unless something really raised."""
    exception = result.get("exception")
    return "Traceback" in run.everything or exception not in (None, "(traceback unavailable)")
