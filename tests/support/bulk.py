"""ipsec_psk_bulk tasks for playbook tests: the bulk task, and router tasks that write each tunnel's key."""

from __future__ import annotations

import os
from pathlib import Path


def bulk_task(emulator, register="fleet", **options):
    """ipsec_psk_bulk registering ``fleet``, trusting the emulator's CA."""
    if emulator.ca_file and "ca_path" not in options:
        options["ca_path"] = emulator.ca_file
    return {"name": "Rotate the fleet's keys", "cloudflare.magic.ipsec_psk_bulk": options, "register": register}


def write_bulk_keys_task(folder, register="fleet"):
    """Like a router task per tunnel: writes each handed-on key (and nothing else) to ``folder/<tunnel id>``, 0600."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    return {"name": "Hand each key to its router",
            "ansible.builtin.copy": {"content": "{{ item.value.psk }}", "dest": f"{folder}/{{{{ item.key }}}}",
                                     "mode": "0600"},
            "loop": "{{ %s.rotated | default({}) | dict2items }}" % register,
            "no_log": True, "when": "item.value.psk is defined"}


def handed_on(folder):
    """tunnel id -> key written by ``write_bulk_keys_task``."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    return {p.name: p.read_text() for p in folder.iterdir()}


def keys_match_edge(folder, emulator):
    """True when every handed-on key is its tunnel's edge key and every file is 0600."""
    keys = handed_on(folder)
    return all(emulator.edge_psk(tid) == key and os.stat(Path(folder) / tid).st_mode & 0o777 == 0o600
               for tid, key in keys.items())


def bulk_posts(emulator):
    return [r for r in emulator.requests if r.method == "POST" and r.path.endswith("/magic/ipsec_tunnels/psk")]
