"""docs/examples/rotate_fleet_bulk.yml run as a user runs it: routers as inventory hosts, the emulator as Cloudflare."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

from support.bulk import bulk_posts
from support.ipsec_example_runs import config_stamp
from support.playbooks import seed_account

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "rotate_fleet_bulk.yml"
ROUTERS = {"router-nyc": "tunnel_nyc_01", "router-lon": "tunnel_lon_01", "router-fra": "tunnel_fra_01",
           "router-sin": "tunnel_sin_01"}


def inventory(path, confdirs):
    hosts = {host: {"cloudflare_tunnel_name": name, "swanctl_conf_dir": str(confdirs[host])}
             for host, name in ROUTERS.items()}
    path.write_text(yaml.safe_dump({"all": {"children": {"routers": {
        "hosts": hosts, "vars": {"ansible_connection": "local", "swanctl_load": False}}}}}))
    return path


def held_key(confdir, name):
    """The key a router's swanctl.conf holds (base64 ``0s`` form), or None."""
    conf = confdir / f"cloudflare-{name}.conf"
    if not conf.exists():
        return None
    line = next(line for line in conf.read_text().splitlines() if line.strip().startswith("secret = 0s"))
    return base64.b64decode(line.strip()[len("secret = 0s"):]).decode()


def converged(emulator, confdir, name, tid):
    """The router's file holds the key in force and, next to it, that key's stamp."""
    edge_stamp = emulator.tunnel(tid).get("psk_metadata", {}).get("last_generated_on")
    conf = confdir / f"cloudflare-{name}.conf"
    return (held_key(confdir, name) == emulator.edge_psk(tid) and edge_stamp is not None
            and config_stamp(conf) == edge_stamp)


@pytest.mark.slow(reason="the fleet example twice against four routers (one unreachable): the second run is what converges")
def test_one_bulk_request_then_each_router_its_key_and_stamp(playbooks, emulator, tmp_path):
    ids = {t["name"]: t["id"] for t in seed_account(emulator)["tunnels"]}
    confdirs = {host: tmp_path / host for host in ROUTERS}
    confdirs["router-sin"] = Path("/dev/null/not-a-directory")  # preflight fails: unreachable router
    inv = inventory(tmp_path / "inventory.yml", confdirs)
    sin_before = emulator.tunnel(ids["tunnel_sin_01"]).get("psk_metadata")
    extra = {"cloudflare_ca_path": emulator.ca_file, "psk_max_age": "90d"}

    first = playbooks.run(EXAMPLE, "-i", str(inv), extra_vars=extra)
    assert first.returncode == 2, first.stdout[-3000:]  # the unreachable router fails its preflight
    posts = bulk_posts(emulator)
    assert len(posts) == 1
    sent = {e["id"] for e in json.loads(posts[0].body)["psks"]}
    assert sent == {ids["tunnel_nyc_01"], ids["tunnel_lon_01"], ids["tunnel_fra_01"]}
    ok = all(converged(emulator, confdirs[h], ROUTERS[h], ids[ROUTERS[h]]) for h in ("router-nyc", "router-lon",
                                                                                     "router-fra"))
    assert ok, "a router does not hold the key in force with its stamp"
    assert emulator.tunnel(ids["tunnel_sin_01"]).get("psk_metadata") == sin_before
    assert all(oct((confdirs[h] / f"cloudflare-{ROUTERS[h]}.conf").stat().st_mode & 0o777) == "0o600"
               for h in ("router-nyc", "router-lon", "router-fra"))

    # The router comes back: it holds no key from us (no stamp), so it alone is rotated.
    confdirs["router-sin"] = tmp_path / "router-sin"
    inventory(inv, confdirs)
    emulator.clear_requests()
    second = playbooks.run(EXAMPLE, "-i", str(inv), extra_vars=extra)
    assert second.returncode == 0, second.stdout[-3000:]
    assert [[e["id"] for e in json.loads(p.body)["psks"]] for p in bulk_posts(emulator)] == [[ids["tunnel_sin_01"]]]
    assert converged(emulator, confdirs["router-sin"], "tunnel_sin_01", ids["tunnel_sin_01"])

    # Every router holds the key in force and it is fresh: nothing is sent.
    emulator.clear_requests()
    third = playbooks.run(EXAMPLE, "-i", str(inv), extra_vars=extra)
    assert third.returncode == 0, third.stdout[-3000:]
    assert bulk_posts(emulator) == []
    for run in (first, second, third):
        assert run.hits(*emulator.generated_psks(), playbooks.token) == 0
