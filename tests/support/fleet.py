"""A fleet of routers for pacing tests and benchmarks: one inventory host per tunnel, all on the controller."""

from __future__ import annotations

import yaml


def fleet_tunnels(tunnels):
    """The generated ``fleet_*`` tunnels of an emulator's tunnel list, in name order."""
    return sorted((t for t in tunnels if t["name"].startswith("fleet_")), key=lambda t: t["name"])


def write_fleet_inventory(path, tunnels, group="fleet"):
    """An inventory with host ``router-<n>`` per tunnel, holding its ``tunnel_id``; every host runs locally."""
    hosts = {f"router-{n:04d}": {"tunnel_id": t["id"]} for n, t in enumerate(tunnels)}
    path.write_text(yaml.safe_dump({"all": {"children": {group: {
        "hosts": hosts, "vars": {"ansible_connection": "local"}}}}}, sort_keys=False))
    return path


def fleet_play(*tasks, group="fleet"):
    return [{"name": "Rotate the fleet", "hosts": group, "gather_facts": False, "tasks": list(tasks)}]


def rotate_by_host_task(emulator, tunnel_id="{{ tunnel_id }}"):
    """ipsec_psk for the host's tunnel, credentials from the environment as AWX injects them."""
    options = {"ipsec_tunnel_id": tunnel_id}
    if emulator.ca_file:
        options["ca_path"] = emulator.ca_file
    return {"name": "Rotate the tunnel's key", "cloudflare.magic.ipsec_psk": options, "register": "rotation"}


def uri_rotate_task(emulator, tunnel_id="{{ tunnel_id }}"):
    """What users write today: ansible.builtin.uri with a Bearer header, blind to the quota."""
    options = {
        "url": emulator.base_url + "/accounts/{{ lookup('ansible.builtin.env', 'CLOUDFLARE_ACCOUNT_ID') }}"
                                   f"/magic/ipsec_tunnels/{tunnel_id}/psk_generate",
        "method": "POST",
        "headers": {"Authorization": "Bearer {{ lookup('ansible.builtin.env', 'CLOUDFLARE_API_TOKEN') }}"},
        "body": {},
        "body_format": "json",
    }
    if emulator.ca_file:
        options["ca_path"] = emulator.ca_file
    return {"name": "Rotate the tunnel's key with uri", "ansible.builtin.uri": options, "register": "rotation",
            "no_log": True}


def dump(plays):
    return yaml.safe_dump(plays, sort_keys=False)
