"""How many API requests one rotated key costs, counted from the emulator's own record."""

from __future__ import annotations

from measure import run_measured
from support.fleet import fleet_tunnels

CASES = (
    ("by id", {"ipsec_tunnel_id": "{id}"}),
    ("by name", {"ipsec_tunnel_name": "{name}"}),
    ("by id, max_age", {"ipsec_tunnel_id": "{id}", "max_age": "30d"}),
    ("by name, max_age", {"ipsec_tunnel_name": "{name}", "max_age": "30d"}),
)


def count(runner, emulator):
    """Return [(case, requests, methods)] for one rotation each, on tunnels whose key is old enough to rotate."""
    # Generated tunnels n % 3 == 1 carry keys 120+ days old, so max_age: 30d rotates them.
    old = [t for t in fleet_tunnels(emulator.tunnels()) if int(t["name"].split("_")[1]) % 3 == 1]
    rows = []
    for (case, options), tunnel in zip(CASES, old):
        task_options = {k: v.format(**tunnel) for k, v in options.items()}
        task_options["ca_path"] = emulator.ca_file
        emulator.clear_requests()
        measured = run_measured(runner, [{"name": case, "hosts": "localhost", "gather_facts": False, "tasks": [
            {"cloudflare.magic.ipsec_psk": task_options, "register": "rotation"},
            {"ansible.builtin.assert": {"that": ["rotation.psk is defined"]}}]}], name="per-key.yml")
        if measured.returncode != 0:
            raise RuntimeError(f"{case} failed:\n{measured.stdout[-3000:]}")
        seen = emulator.requests
        rows.append((case, len(seen), " + ".join(f"{r.method} {_endpoint(r.path)}" for r in seen)))
    return rows


def _endpoint(path):
    if path.endswith("/psk_generate"):
        return "psk_generate"
    return "list" if path.endswith("/ipsec_tunnels") else "get"


def table(rows):
    lines = [f"{'case':<18}{'requests':>9}  what"]
    lines += [f"{case:<18}{n:>9}  {what}" for case, n, what in rows]
    return "\n".join(lines)
