"""The AWX credential type in docs/awx: AWX renders it, ansible-runner runs an example playbook with it."""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

import ansible_runner
import pytest
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

from support.playbooks import seed_account, seed_token

ROOT = Path(__file__).resolve().parents[2]
AWX_DOCS = ROOT / "docs" / "awx"
EXAMPLE = ROOT / "docs" / "examples" / "rotate_and_configure_strongswan.yml"
HIDDEN_PASSWORD = "**********"  # what AWX stores in the job's environment in place of a secret field


class UnsafeLoader(yaml.SafeLoader):
    """Reads the ``!unsafe`` tags that keep Ansible from templating the injectors."""


UnsafeLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def api_format():
    return json.loads((AWX_DOCS / "cloudflare_credential_type.json").read_text())


def controller_format():
    data = yaml.load((AWX_DOCS / "controller_credential_types.yml").read_text(), Loader=UnsafeLoader)
    return data["controller_credential_types"][0]


def render_env(credential_type, inputs, hide_secrets=False):
    """Render the env injectors as AWX does: a sandboxed Jinja environment over the filled-in fields."""
    secret = {f["id"] for f in credential_type["inputs"]["fields"] if f.get("secret")}
    namespace = {}
    for name, value in inputs.items():
        if hide_secrets and name in secret:
            namespace[name] = HIDDEN_PASSWORD
        elif value:
            namespace[name] = value
    sandbox = ImmutableSandboxedEnvironment()
    return {var: sandbox.from_string(template).render(**namespace)
            for var, template in credential_type["injectors"]["env"].items()}


def test_both_formats_describe_the_same_credential_type():
    same = api_format() == controller_format()
    assert same, "docs/awx/cloudflare_credential_type.json and controller_credential_types.yml differ"


def test_secret_fields_and_injected_variables_match_the_module():
    fields = {f["id"]: f for f in api_format()["inputs"]["fields"]}
    assert {k for k, f in fields.items() if f.get("secret")} == {"api_token", "api_key"}
    assert set(api_format()["injectors"]["env"]) == {
        "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY",
        "CLOUDFLARE_BASE_URL"}
    # Every variable injected is one the module documents as its fallback.
    documented = (ROOT / "plugins" / "doc_fragments" / "connection.py").read_text()
    for var in api_format()["injectors"]["env"]:
        assert var in documented, var


def test_unset_base_url_renders_as_cloudflares_api():
    env = render_env(api_format(), {"api_token": "t" * 40, "account_id": "a" * 32})
    assert env["CLOUDFLARE_BASE_URL"] == "https://api.cloudflare.com/client/v4"
    assert env["CLOUDFLARE_EMAIL"] == "" and env["CLOUDFLARE_API_KEY"] == ""


@pytest.mark.slow(reason="a whole role run (preflight, rotation, hand-off) through ansible-runner, as AWX runs it")
def test_example_playbook_through_ansible_runner_hands_the_key_and_leaks_nothing(emulator, tmp_path):
    token = seed_token(emulator, "write")
    inputs = {"api_token": token, "account_id": seed_account(emulator)["id"],
              "api_base_url": emulator.base_url}
    credential_type = api_format()
    env = render_env(credential_type, inputs)
    assert token not in json.dumps(render_env(credential_type, inputs, hide_secrets=True))

    conf_dir = tmp_path / "swanctl"
    conf_dir.mkdir()
    (tmp_path / "runner").mkdir()
    bin_dir = str(Path(sys.executable).parent)
    env.update({
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_COLLECTIONS_PATH": os.environ.get("ANSIBLE_COLLECTIONS_PATH", ""),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
    })
    tunnel = next(t for t in seed_account(emulator)["tunnels"] if t["name"] == "tunnel_nyc_01")
    run = ansible_runner.run(
        private_data_dir=str(tmp_path / "runner"),
        playbook=str(EXAMPLE),
        # As AWX's own localhost host: local connection, the execution environment's Python.
        inventory="localhost ansible_connection=local ansible_python_interpreter='{{ ansible_playbook_python }}'",
        envvars=env,
        # Cloudflare's psk_generate answer has no ipsec_id: the job template gives the router's identity.
        extravars={"swanctl_conf_dir": str(conf_dir), "swanctl_load": False,
                   "cloudflare_ca_path": emulator.ca_file, "router_ike_id": emulator.ipsec_id(tunnel["id"])},
        process_isolation=False,
        quiet=True,
    )
    stdout = run.stdout.read()
    assert run.status == "successful", stdout[-3000:]

    edge = emulator.edge_psk(tunnel["id"])
    conf = (conf_dir / "cloudflare-tunnel_nyc_01.conf").read_text()
    # The template writes the key base64-encoded (swanctl's 0s prefix).
    router_got_edge_key = bool(edge) and f"secret = 0s{base64.b64encode(edge.encode()).decode()}\n" in conf
    assert router_got_edge_key, "the router's configuration does not hold the key in force at the edge"

    artifacts = Path(run.config.artifact_dir)
    events = sorted((artifacts / "job_events").glob("*.json"))
    assert events, "ansible-runner wrote no job events"
    secrets = (edge, base64.b64encode(edge.encode()).decode(), token)
    leaks = {str(p.relative_to(artifacts)) for p in [*events, artifacts / "stdout"]
             if any(s in p.read_text() for s in secrets)}
    assert not leaks, f"the key or the token is in {sorted(leaks)}"
    assert not any(s in stdout for s in secrets), "the key or the token is in ansible-runner's stdout"
