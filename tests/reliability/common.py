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
# ansible-playbook then waits for a result forever. Seen in CI on the 2.19 line only; six concurrent runs of the
# leak matrix's "faults" group hung five times on 2.19.0; three each on 2.20.0 and 2.21.5 at the same time, none. The matrices that
# run several rows or cases as the plays of one playbook (leaks, faults) run each alone there.
ROWS_ALONE = (2, 19) <= tuple(int(part) for part in ansible_core.split(".")[:2]) < (2, 20)


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
