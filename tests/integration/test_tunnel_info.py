"""ipsec_tunnel_info in real playbook runs against the emulator: what it reports, what it sends, what it refuses,
and that it shows no secret."""

from __future__ import annotations

import secrets

import pytest
from cf_emulator import default_seed, seed_with_tunnels
from support.info import info_task, load_report, save_report_task, seed_with_never_generated_forms, started
from support.playbooks import PlaybookRunner, play, rotate_task, seed_account
from support.results import api_calls

from ansible_collections.cloudflare.magic.plugins.module_utils._rotation import SECRET_MARKER

# Seed ages: nyc_01 12 days, sin_01 45, fra_01 200, nyc_01b a fixed 2025 time (over 500 days), lon_01 never.
AGES = {"tunnel_nyc_01": 12, "tunnel_sin_01": 45, "tunnel_fra_01": 200}


def report(playbooks, emulator, tmp_path, *args, **options):
    saved = tmp_path / "report.json"
    run = playbooks.run(play(info_task(emulator, **options), save_report_task(saved)), *args, verbosity=3)
    return run, (load_report(saved) if saved.exists() else None)


def rows(result):
    return {row["name"]: row for row in result["ipsec_tunnels"]}


def test_all_tunnels_with_their_ages_in_one_request(playbooks, emulator, tmp_path):
    run, result = report(playbooks, emulator, tmp_path, max_age="90d")
    assert run.returncode == 0, run.stdout[-3000:]
    assert api_calls(emulator) == [("GET", "ipsec_tunnels")]
    assert result["changed"] is False
    seeded = seed_account(emulator)["tunnels"]
    assert [row["name"] for row in result["ipsec_tunnels"]] == [t["name"] for t in seeded]
    reported = rows(result)
    for tunnel in emulator.tunnels(emulator.account_id):
        row = reported[tunnel["name"]]
        for field in ("id", "description", "cloudflare_endpoint", "customer_endpoint", "interface_address"):
            assert row[field] == tunnel[field], (tunnel["name"], field)
        assert row["psk_metadata"]["last_generated_on"] == (tunnel.get("psk_metadata") or {}).get("last_generated_on")
    for name, days in AGES.items():
        assert days - 0.01 <= reported[name]["psk_age_days"] <= days + 0.02, name
    assert reported["tunnel_nyc_01b"]["psk_age_days"] > 500
    assert reported["tunnel_sin_01"]["custom_remote_identities"]["fqdn_id"].startswith("sin-edge-01.")
    overdue = sorted(name for name, row in reported.items() if row["overdue"])
    assert overdue == ["tunnel_fra_01", "tunnel_lon_01", "tunnel_nyc_01b"]
    lon = reported["tunnel_lon_01"]
    assert lon["never_generated"] is True and lon["psk_age_days"] is None
    summary = result["summary"]
    assert summary["total"] == 5 and summary["overdue"] == 3 and summary["never_generated"] == 1
    assert summary["router_stale"] is None
    assert summary["oldest"]["name"] == "tunnel_nyc_01b"
    assert summary["oldest"]["last_generated_on"] == "2025-06-30T22:41:09.551203871Z"


def test_by_ids_and_by_names_in_the_order_asked(playbooks, emulator, tmp_path):
    by_name = {t["name"]: t["id"] for t in seed_account(emulator)["tunnels"]}
    run, result = report(playbooks, emulator, tmp_path,
                         ipsec_tunnel_ids=[by_name["tunnel_sin_01"].upper(), by_name["tunnel_lon_01"]])
    assert run.returncode == 0, run.stdout[-3000:]
    assert [row["name"] for row in result["ipsec_tunnels"]] == ["tunnel_sin_01", "tunnel_lon_01"]
    emulator.clear_requests()
    run, result = report(playbooks, emulator, tmp_path, ipsec_tunnel_names=["tunnel_fra_01", "tunnel_nyc_01"])
    assert run.returncode == 0, run.stdout[-3000:]
    assert [row["id"] for row in result["ipsec_tunnels"]] == [by_name["tunnel_fra_01"], by_name["tunnel_nyc_01"]]
    assert result["summary"]["total"] == 2
    assert api_calls(emulator) == [("GET", "ipsec_tunnels")]


def test_every_published_form_of_a_never_generated_key(tmp_path):
    seed, ids = seed_with_never_generated_forms()
    emulator = started(tmp_path, seed)
    try:
        run, result = report(PlaybookRunner(tmp_path / "run", emulator), emulator, tmp_path, max_age="90d",
                             ipsec_tunnel_ids=list(ids.values()))
    finally:
        emulator.stop()
    assert run.returncode == 0, run.stdout[-3000:]
    assert [row["id"] for row in result["ipsec_tunnels"]] == list(ids.values())
    for row in result["ipsec_tunnels"]:
        assert row["never_generated"] is True and row["psk_age_days"] is None and row["overdue"] is True, row["name"]
        assert row["psk_metadata"] == {"last_generated_on": None}
    assert result["summary"]["never_generated"] == 4 and result["summary"]["oldest"] is None


def test_stale_routers(playbooks, emulator, tmp_path):
    # Rotate nyc_01 first: its router then holds the new stamp, written with +00:00 and fewer digits.
    run = playbooks.run(play(rotate_task(emulator, ipsec_tunnel_name="tunnel_nyc_01")))
    assert run.returncode == 0, run.stdout[-3000:]
    nyc = next(t for t in emulator.tunnels(emulator.account_id) if t["name"] == "tunnel_nyc_01")
    stamp = nyc["psk_metadata"]["last_generated_on"]
    same_instant = stamp[:-1].rstrip("0") + "+00:00"
    emulator.clear_requests()
    run, result = report(playbooks, emulator, tmp_path, router_psk_generated_on={
        nyc["id"]: same_instant, "tunnel_sin_01": "2026-01-01T00:00:00Z", "tunnel_lon_01": ""})
    assert run.returncode == 0, run.stdout[-3000:]
    stale = {name: row["router_stale"] for name, row in rows(result).items()}
    assert stale == {"tunnel_nyc_01": False, "tunnel_sin_01": True, "tunnel_lon_01": True,
                     "tunnel_nyc_01b": None, "tunnel_fra_01": None}
    assert result["summary"]["router_stale"] == 2
    assert api_calls(emulator) == [("GET", "ipsec_tunnels")]


def test_check_mode_reports_the_same_and_changes_nothing(playbooks, emulator, tmp_path):
    before = emulator.tunnels(emulator.account_id)
    run, checked = report(playbooks, emulator, tmp_path, "--check", max_age="30d")
    assert run.returncode == 0, run.stdout[-3000:]
    _run, real = report(playbooks, emulator, tmp_path, max_age="30d")
    assert checked["changed"] is False
    for result in (checked, real):
        result.pop("reported_on")
        for row in result["ipsec_tunnels"]:
            row.pop("psk_age_days")  # seconds apart
        result["summary"]["oldest"].pop("psk_age_days")
    assert checked == real
    assert api_calls(emulator) == [("GET", "ipsec_tunnels")] * 2
    assert emulator.tunnels(emulator.account_id) == before and emulator.generated_psks() == []


@pytest.mark.parametrize("option, value, named", [
    ("ipsec_tunnel_names", ["tunnel_nyc_01", "tunnel_nyc_1"], "but not 'tunnel_nyc_1' (0 tunnels)"),
    ("ipsec_tunnel_ids", ["0123456789abcdef0123456789abcdef"],
     "0123456789abcdef0123456789abcdef is not among the account's 5 IPsec tunnels"),
])
def test_an_unknown_tunnel_fails_before_anything_else(playbooks, emulator, tmp_path, option, value, named):
    after = {"name": "Rotate after the report", "cloudflare.magic.ipsec_psk": {
        "ipsec_tunnel_name": "tunnel_nyc_01", "ca_path": emulator.ca_file}}
    run = playbooks.run(play(info_task(emulator, **{option: value}), after))
    assert run.returncode != 0
    assert f"{option}: " in run.stdout and named in run.stdout and "nothing was reported" in run.stdout
    assert "Traceback" not in run.everything
    assert api_calls(emulator) == [("GET", "ipsec_tunnels")], "more was sent than the one list"
    assert emulator.generated_psks() == []


def test_a_bad_router_stamp_fails_without_a_request(playbooks, emulator):
    run = playbooks.run(play(info_task(emulator, router_psk_generated_on={"tunnel_nyc_01": "last tuesday"})))
    assert run.returncode != 0
    assert "router_psk_generated_on[tunnel_nyc_01]: is not an RFC 3339 timestamp" in run.stdout
    assert emulator.requests == []


def test_a_read_token_is_enough(playbooks, emulator, tmp_path):
    saved = tmp_path / "report.json"
    run = playbooks.run(play(info_task(emulator), save_report_task(saved)),
                        env={"CLOUDFLARE_API_TOKEN": emulator.token("magic_wan_read")})
    assert run.returncode == 0, run.stdout[-3000:]
    assert load_report(saved)["summary"]["total"] == 5


def test_no_secret_in_any_output_nor_in_the_registered_report(tmp_path):
    # A BGP MD5 key and a secret-shaped field of a future schema, on tunnels the report lists.
    md5_key, future_secret = secrets.token_hex(20), secrets.token_urlsafe(24)
    seed = default_seed()
    tunnels = {t["name"]: t for t in seed["accounts"][0]["tunnels"]}
    tunnels["tunnel_nyc_01"]["bgp"] = {"customer_asn": 64512, "md5_key": md5_key}
    tunnels["tunnel_sin_01"]["custom_remote_identities"]["psk_hint"] = future_secret
    emulator = started(tmp_path, seed)
    try:
        playbooks = PlaybookRunner(tmp_path / "run", emulator)
        run, result = report(playbooks, emulator, tmp_path, max_age="90d")
        shown = run.stdout
    finally:
        emulator.stop()
    assert run.returncode == 0, run.stdout[-3000:]
    assert rows(result)["tunnel_sin_01"]["custom_remote_identities"]["psk_hint"] == SECRET_MARKER
    assert "ipsec_tunnels" in shown, "-vvv shows the result, so the search below means something"
    secret_values = [md5_key, future_secret, playbooks.token, *emulator.bgp_md5_keys()]
    assert run.hits(*secret_values) == 0
    assert (tmp_path / "report.json").read_text().count(md5_key) == 0


def test_a_thousand_tunnels_in_one_request(tmp_path):
    emulator = started(tmp_path, seed_with_tunnels(1000))
    try:
        run, result = report(PlaybookRunner(tmp_path / "run", emulator), emulator, tmp_path, max_age="90d")
        calls = api_calls(emulator)
    finally:
        emulator.stop()
    assert run.returncode == 0, run.stdout[-3000:]
    assert calls == [("GET", "ipsec_tunnels")]
    fleet = [row for row in result["ipsec_tunnels"] if row["name"].startswith("fleet_")]
    assert len(fleet) == 1000 and result["summary"]["total"] == 1005
    assert sum(row["never_generated"] for row in fleet) == 334  # every third generated tunnel, from index 0
