"""Errors say where and what: the URL tried and the option or variable it came from, the credential's source
and the permission it needs, the account's variable, a TLS failure in words, and the names a typo was near.
One playbook of failing tasks (ignore_errors), read as a user reads its output; no secret in any of it."""

from __future__ import annotations

from support.playbooks import play, rotate_task, seed_token

RUN = "nyc"


def failing(name, task_options, environment=None):
    task = {"name": name, "cloudflare.magic.ipsec_psk": task_options, "ignore_errors": True}
    if environment:
        task["environment"] = environment
    return task


def test_each_failure_names_where_it_came_from_and_what_to_fix(playbooks, emulator):
    ca = {"ca_path": emulator.ca_file}
    read_token = seed_token(emulator, permission="read")
    bad_token = "0123456789abcdef0123456789abcdef01234567"
    tasks = [
        failing("refused", dict(ipsec_tunnel_name="tunnel_nyc_01", retries=0, **ca),
                {"CLOUDFLARE_BASE_URL": "https://127.0.0.1:9/client/v4"}),
        failing("dns", dict(ipsec_tunnel_name="tunnel_nyc_01", retries=0, api_base_url="https://nohost.invalid/v4")),
        failing("tls", dict(ipsec_tunnel_name="tunnel_nyc_01", retries=0)),
        failing("bad token", dict(ipsec_tunnel_name="tunnel_nyc_01", **ca), {"CLOUDFLARE_API_TOKEN": "{{ lookup('env', 'BAD_TOKEN') }}"}),
        failing("read token", dict(ipsec_tunnel_name="tunnel_nyc_01", **ca), {"CLOUDFLARE_API_TOKEN": "{{ lookup('env', 'READ_TOKEN') }}"}),
        failing("account", dict(ipsec_tunnel_name="tunnel_nyc_01", **ca), {"CLOUDFLARE_ACCOUNT_ID": "my-account"}),
        rotate_task(emulator, ipsec_tunnel_name="tunnel_nyc_1") | {"ignore_errors": True},
    ]
    # Tokens from the controller's environment, as a credential injects them: a literal in a playbook is quoted
    # by ansible-core 2.19+ under a failed task ("Origin:"), which the README warns about.
    run = playbooks.run(play(*tasks), env={"BAD_TOKEN": bad_token, "READ_TOKEN": read_token})
    out = run.stdout
    assert "could not connect to https://127.0.0.1:9/client/v4: 127.0.0.1 refused the connection" in out
    assert "Check CLOUDFLARE_BASE_URL (the environment variable behind api_base_url)." in out
    assert ("could not connect to https://nohost.invalid/v4: the host name nohost.invalid does not resolve (DNS). "
            "Check api_base_url.") in out
    assert f"TLS verification of {emulator.base_url} failed: the server's certificate is not trusted (" in out
    assert "If the server uses a private CA, set ca_path (or REQUESTS_CA_BUNDLE)" in out
    assert "(str: " not in out and "CERTIFICATE_VERIFY_FAILED" not in out
    assert "HTTP 401" in out and "Cloudflare did not accept the API token from CLOUDFLARE_API_TOKEN" in out
    assert ("The API token from CLOUDFLARE_API_TOKEN lacks a permission here: rotating keys needs Magic WAN Write "
            "or Magic Transit Write") in out
    assert "CLOUDFLARE_ACCOUNT_ID: must be 32 hexadecimal characters" in out
    assert "Did you mean 'tunnel_nyc_01' or 'tunnel_nyc_01b'" in out
    assert out.count("...ignoring") == 7 and "Traceback" not in run.everything
    assert run.hits(playbooks.token, read_token, bad_token) == 0
