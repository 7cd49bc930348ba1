"""The key-age report as a person (or an auditor) reads it: rendered by a headless Chromium, it says plainly what
was checked, counts in words, gives ages in hours or days, explains its router column and lists the stale
routers; a tunnel name or endpoint from the answer can neither forge a Markdown row nor inject HTML."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from cf_emulator import Emulator, default_seed
from support.playbooks import PlaybookRunner

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "psk_age_report.yml"
HOSTILE_NAME = "a|b<b>X</b>"
HOSTILE_ENDPOINT = "203.0.113.9\n| FORGED | row | x | y | z |"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture
def lab(tmp_path):
    seed = default_seed()
    tunnels = seed["accounts"][0]["tunnels"]
    stale = [t for t in tunnels if t["name"] == "tunnel_sin_01"][0]
    tunnels[0].update(name=HOSTILE_NAME, customer_endpoint=HOSTILE_ENDPOINT)
    emulator = Emulator(seed=seed, tls=True, state_dir=str(tmp_path / "emulator")).start()
    try:
        yield emulator, PlaybookRunner(tmp_path / "run", emulator), stale["name"], tmp_path
    finally:
        emulator.stop()


def run_report(runner, emulator, folder, inventory, report_format):
    extra = {"cloudflare_ca_path": emulator.ca_file, "report_dir": str(folder), "psk_max_age": "90d",
             "report_format": report_format}
    run = runner.run(EXAMPLE, "-i", str(inventory), extra_vars=extra)
    assert run.returncode == 0, run.stdout[-3000:]
    return folder / f"psk-age-report.{'html' if report_format == 'html' else 'md'}"


class Text(HTMLParser):
    """The text a reader sees, and the elements the page really has."""

    def __init__(self):
        super().__init__()
        self.parts, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.parts.append(data)

    @property
    def text(self):
        return " ".join(" ".join(self.parts).split())


def test_the_markdown_report_cannot_be_forged_by_a_name_or_endpoint(lab):
    emulator, runner, _stale, tmp_path = lab
    inventory = tmp_path / "none.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {}}}))
    text = run_report(runner, emulator, tmp_path / "md", inventory, "markdown").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(rows) == 3 + 5, rows  # the summary's header and values, the tunnel table's header, 5 tunnels
    assert not any("FORGED" in line and not line.startswith("| ") for line in text.splitlines())
    hostile = next(line for line in rows if "FORGED" in line)
    assert "a\\|b&lt;b&gt;X&lt;/b&gt;" in hostile and "203.0.113.9 \\| FORGED \\| row" in hostile
    assert hostile.replace("\\|", "").count("|") == 7  # six cells
    assert "not checked (no routers in the inventory)" in text and "Not checked: no routers in the inventory." in text


@pytest.mark.skipif(CHROMIUM is None, reason="needs a headless Chromium (apt-get install chromium)")
def test_the_html_report_reads_plainly_in_a_browser(lab):
    emulator, runner, stale, tmp_path = lab
    confdir = tmp_path / "router-sin"
    confdir.mkdir()
    (confdir / f"cloudflare-{stale}.conf").write_text("# cloudflare.magic psk 2026-01-01T00:00:00Z\n")
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"routers": {"hosts": {"router-sin": {
        "tunnel_psk_tunnel_name": stale, "tunnel_psk_swanctl_conf_dir": str(confdir),
        "ansible_connection": "local"}}}}}}))
    page = run_report(runner, emulator, tmp_path / "html", inventory, "html")
    profile = tmp_path / "chromium-profile"
    browse = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
              "--window-size=1400,1000"]
    dom = subprocess.run([*browse, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    subprocess.run([*browse, f"--screenshot={tmp_path / 'report.png'}", page.as_uri()], capture_output=True,
                   timeout=120, check=True)
    seen = Text()
    seen.feed(dom)
    text = seen.text
    assert "Tunnels reported 5" in text and "Keys overdue 3" in text and "Keys never generated 1" in text
    assert "Routers not holding the key in force 1 of 1 router checked" in text
    assert "no router stamps" not in text and "1 routers" not in text and " 0.0 " not in text
    assert "Oldest key tunnel_nyc_01b," in text and "days old" in text
    assert "12.0 days" in text or "11.9 days" in text  # tunnel_nyc_01's key: ages in days, one decimal
    assert "Router column: holds the key in force - the router's stamp names Cloudflare's key in force" in text
    assert f"router-sin ({stale}, " in text and "holds the key of 2026-01-01T00:00:00Z" in text
    assert HOSTILE_NAME in text and "b" not in seen.tags  # shown as text, never an element
    assert (tmp_path / "report.png").stat().st_size > 10_000
    print(json.dumps({"screenshot": str(tmp_path / "report.png")}))
