"""The AWX job template of docs/awx/controller_job_templates.yml: its survey's answers, passed as AWX passes
them (text and multiple choice as strings, integers as numbers), drive the role through ansible-runner."""

from __future__ import annotations

import base64
import os
import re
import sys
import time
from pathlib import Path

import ansible_runner
import yaml

from support.playbooks import seed_account, seed_token
from support.router_python import router_python
from test_credential_type import api_format, render_env

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = yaml.safe_load((ROOT / "docs" / "awx" / "controller_job_templates.yml").read_text())
JOB = TEMPLATE["controller_templates"][0]


def survey_extra_vars(answers=None):
    """What AWX passes as extra vars for a launch with these answers (the defaults for the others)."""
    extra = {}
    for question in JOB["survey_spec"]["spec"]:
        value = (answers or {}).get(question["variable"], question.get("default"))
        if question["type"] == "multiplechoice":
            assert value in question["choices"]
        extra[question["variable"]] = int(value) if question["type"] == "integer" else str(value)
    return extra


def test_the_template_runs_the_role_playbook_one_job_at_a_time():
    playbook = ROOT / JOB["playbook"]
    assert yaml.safe_load(playbook.read_text())[0]["roles"][0]["role"] == "cloudflare.magic.tunnel_psk"
    assert JOB["allow_simultaneous"] is False and JOB["survey_enabled"] is True
    spec = yaml.safe_load((ROOT / "roles" / "tunnel_psk" / "meta" / "argument_specs.yml").read_text())
    inputs = spec["argument_specs"]["main"]["options"]
    for question in JOB["survey_spec"]["spec"]:
        assert question["variable"] in inputs, f"{question['variable']} is not an input of the role"


def launch(emulator, tmp_path, answers, name, host_vars=None):
    token = seed_token(emulator, "write")
    env = render_env(api_format(), {"api_token": token, "account_id": seed_account(emulator)["id"],
                                    "api_base_url": emulator.base_url})
    env.update({"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                "ANSIBLE_COLLECTIONS_PATH": os.environ.get("ANSIBLE_COLLECTIONS_PATH", ""),
                "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"), "ANSIBLE_HOME": str(tmp_path / "ansible-home")})
    router = {"ansible_connection": "local", "ansible_python_interpreter": router_python(),
              "tunnel_psk_platform": "strongswan", "tunnel_psk_tunnel_name": "tunnel_nyc_01",
              "tunnel_psk_swanctl_conf_dir": str(tmp_path / "swanctl"), "tunnel_psk_swanctl_load": False,
              "tunnel_psk_ike_id": "router.example.net", "tunnel_psk_ca_path": emulator.ca_file, **(host_vars or {})}
    (tmp_path / "swanctl").mkdir(exist_ok=True)
    private = tmp_path / f"runner-{name}"
    (private / "inventory").mkdir(parents=True)
    (private / "inventory" / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"routers": {
        "hosts": {"router-nyc": router}}}}}))
    run = ansible_runner.run(private_data_dir=str(private), playbook=str(ROOT / JOB["playbook"]), envvars=env,
                             extravars=survey_extra_vars(answers), process_isolation=False, quiet=True)
    return run, token


def leaked(run, secrets):
    artifacts = Path(run.config.artifact_dir)
    files = [*sorted((artifacts / "job_events").glob("*.json")), artifacts / "stdout"]
    return sorted(str(p.relative_to(artifacts)) for p in files if any(s and s in p.read_text() for s in secrets))


def held(tmp_path):
    conf = (tmp_path / "swanctl" / "cloudflare-tunnel_nyc_01.conf").read_text()
    key = re.search(r"^\s*secret = 0s(\S+)$", conf, re.MULTILINE).group(1)
    stamp = re.search(r"^# cloudflare\.magic psk (.*)$", conf, re.MULTILINE).group(1)
    return base64.b64decode(key).decode(), stamp


def test_survey_answers_drive_the_role_and_nothing_leaks(emulator, tmp_path):
    tid = next(t["id"] for t in seed_account(emulator)["tunnels"] if t["name"] == "tunnel_nyc_01")
    first, token = launch(emulator, tmp_path, {"tunnel_psk_verify": "false"}, "first")
    assert first.status == "successful", first.stdout.read()[-3000:]
    assert held(tmp_path) == (emulator.edge_psk(tid), emulator.tunnel(tid)["psk_metadata"]["last_generated_on"])

    time.sleep(1.1)
    # tunnel_psk_allow_short_max_age is no survey question: an inventory variable allows the 1s that forces this.
    second, _token = launch(emulator, tmp_path, {"tunnel_psk_verify": "false", "tunnel_psk_bulk": "true",
                                                 "tunnel_psk_max_age": "1s"}, "bulk",
                            host_vars={"tunnel_psk_allow_short_max_age": True})
    assert second.status == "successful", second.stdout.read()[-3000:]
    bulk = [r for r in emulator.requests if r.method == "POST" and r.path.endswith("/ipsec_tunnels/psk")]
    assert len(bulk) == 1, "the survey's bulk answer did not make one bulk request"
    assert held(tmp_path)[0] == emulator.edge_psk(tid)

    keys = [*emulator.generated_psks(), token]
    keys += [base64.b64encode(k.encode()).decode() for k in emulator.generated_psks()]
    assert leaked(first, keys) == [] and leaked(second, keys) == []


def test_a_max_age_answer_without_its_unit_fails_before_any_request(emulator, tmp_path):
    """"90" typed into the survey meaning days would be 90 seconds, a rotation at every run: refused."""
    run, _token = launch(emulator, tmp_path, {"tunnel_psk_max_age": "90"}, "no-unit")
    assert run.status == "failed"
    out = " ".join(run.stdout.read().split())
    assert "tunnel_psk_max_age '90' must be a whole number with its unit" in out, out[-3000:]
    assert not [r for r in emulator.requests if r.method == "POST"]
