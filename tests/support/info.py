"""ipsec_tunnel_info tasks for playbook tests: the report task, and a task that keeps what it registered."""

from __future__ import annotations

import json
from pathlib import Path

from cf_emulator import NEVER_GENERATED_FORMS, Emulator, default_seed


def info_task(emulator, register="keys", **options):
    """ipsec_tunnel_info registering ``keys``, trusting the emulator's CA."""
    if emulator.ca_file and "ca_path" not in options:
        options["ca_path"] = emulator.ca_file
    return {"name": "Report the tunnels' key ages", "cloudflare.magic.ipsec_tunnel_info": options,
            "register": register}


def save_report_task(path, register="keys"):
    """Writes the registered report to ``path`` as JSON (it holds no key, so no no_log is needed)."""
    return {"name": "Keep the report", "ansible.builtin.copy": {
        "content": "{{ %s | to_json }}" % register, "dest": str(path), "mode": "0600"}, "check_mode": False}


def load_report(path):
    return json.loads(Path(path).read_text())


def seed_with_never_generated_forms(seed=None):
    """The default seed (or ``seed``) plus one tunnel per published form of a never-generated key,
    named ``never_<form>``; returns the seed and ``{form: tunnel id}``."""
    seed = seed or default_seed()
    tunnels = seed["accounts"][0]["tunnels"]
    template = next(t for t in tunnels if t["name"] == "tunnel_lon_01")
    ids = {}
    for number, (form, fields) in enumerate(NEVER_GENERATED_FORMS.items()):
        ids[form] = f"{0xe0 + number:032x}"
        tunnels.append(dict(template, id=ids[form], name=f"never_{form.replace('_', '')}",
                            interface_address=f"10.252.9.{2 * number}/31", **fields))
    return seed, ids


def started(tmp_path, seed):
    return Emulator(tls=True, state_dir=str(Path(tmp_path) / "emulator"), seed=seed).start()
