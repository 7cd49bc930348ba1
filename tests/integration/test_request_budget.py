"""Requests per rotation, counted from the emulator's record: 1 by id, 2 by name, at most 2 with max_age."""

from __future__ import annotations

import pytest

from support.playbooks import play, rotate_task, seed_account

CASES = [  # (label, options by tunnel, the requests the emulator must see)
    ("by id", {"ipsec_tunnel_id": "fra"}, ["POST psk_generate"]),
    ("by name", {"ipsec_tunnel_name": "fra"}, ["GET list", "POST psk_generate"]),
    ("by id, max_age, old key", {"ipsec_tunnel_id": "fra", "max_age": "90d"}, ["GET tunnel", "POST psk_generate"]),
    ("by id, max_age, fresh key", {"ipsec_tunnel_id": "nyc", "max_age": "90d"}, ["GET tunnel"]),
    ("by name, max_age, old key", {"ipsec_tunnel_name": "fra", "max_age": "90d"}, ["GET list", "POST psk_generate"]),
    ("by name, max_age, fresh key", {"ipsec_tunnel_name": "nyc", "max_age": "90d"}, ["GET list"]),
]
TUNNELS = {"fra": "tunnel_fra_01", "nyc": "tunnel_nyc_01"}


def describe(request, tunnel_id):
    last = request.path.rstrip("/").rsplit("/", 1)[-1]
    kind = {"psk_generate": "psk_generate", "ipsec_tunnels": "list", tunnel_id: "tunnel"}.get(last, last)
    return f"{request.method} {kind}"


@pytest.mark.parametrize("label, options, expected", CASES, ids=[c[0] for c in CASES])
def test_requests_per_rotation(playbooks, emulator, label, options, expected):
    tunnels = {t["name"]: t for t in seed_account(emulator)["tunnels"]}
    which = TUNNELS[options.get("ipsec_tunnel_id") or options["ipsec_tunnel_name"]]
    t = tunnels[which]
    resolved = {k: (t["id"] if k == "ipsec_tunnel_id" else which if k == "ipsec_tunnel_name" else v)
                for k, v in options.items()}
    run = playbooks.run(play(rotate_task(emulator, **resolved)))
    assert run.returncode == 0, run.stdout[-3000:]
    seen = [describe(r, t["id"]) for r in emulator.requests]
    print(f"{label}: {len(seen)} request(s): {', '.join(seen)}")
    assert seen == expected
