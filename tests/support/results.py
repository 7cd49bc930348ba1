"""Reading a registered ipsec_psk result from a playbook run, without the key ever leaving the run."""

from __future__ import annotations

import json
from pathlib import Path

_WITHOUT_PSK = ("(rotation | dict2items | rejectattr('key', 'equalto', 'psk') | items2dict)"
                " | combine({'has_psk': rotation.psk is defined}) | to_json")


def save_result_task(path):
    """A task writing the registered ``rotation`` to ``path`` as JSON, minus ``psk`` (``has_psk`` says if it was there)."""
    return {"name": "Save the result without the key", "ansible.builtin.copy": {
        "content": "{{ " + _WITHOUT_PSK + " }}", "dest": str(path), "mode": "0600"},
        "no_log": True, "check_mode": False}


def load_result(path):
    return json.loads(Path(path).read_text())


def api_calls(emulator):
    """The API requests the emulator saw, as ``(method, last path part)`` pairs, e.g. ``("GET", "ipsec_tunnels")``."""
    return [(r.method, r.path.rstrip("/").rsplit("/", 1)[-1]) for r in emulator.requests]
