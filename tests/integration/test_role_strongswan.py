"""The tunnel_psk role on a strongSwan router folder, driven with its own inputs (tunnel_psk_*).

The router is a folder (its swanctl conf.d) reached through an inventory host; the load command copies the
configuration where charon would load it (tests/support/ipsec_example_runs.py). Each run is counted from the
emulator's request record. Keys are compared, never printed; every run's stdout and log are searched for them.
"""

from __future__ import annotations

import base64
import ipaddress
import re

import pytest
import yaml

from cf_emulator import Emulator
from support.ipsec_example_runs import LOADED, StrongswanRouter, seed_with_custom_identity


@pytest.fixture
def router(tmp_path):
    emulator = Emulator(seed=seed_with_custom_identity(), tls=True, state_dir=str(tmp_path / "emulator")).start()
    try:
        router = StrongswanRouter(tmp_path, emulator)
        router.playbook = tmp_path / "role.yml"
        router.playbook.write_text(yaml.safe_dump([{"name": "The role, as a user writes it", "hosts": "router",
                                                    "gather_facts": False,
                                                    "roles": ["cloudflare.magic.tunnel_psk"]}]))
        yield router
    finally:
        emulator.stop()


def role_run(router, what, args=(), reachable=True, **inputs):
    """Run the role with its own inputs; the router folder's load command stands for charon's."""
    values = {"tunnel_psk_platform": "strongswan", "tunnel_psk_tunnel_name": router.tunnel["name"],
              "tunnel_psk_swanctl_conf_dir": str(router.conf_dir), "tunnel_psk_ca_path": router.emulator.ca_file,
              "tunnel_psk_swanctl_load_command": ["cp", str(router.config), str(router.conf_dir.parent / LOADED)],
              "tunnel_psk_verify": False}
    values.update(inputs)
    values = {k: v for k, v in values.items() if v is not None}  # None: the input is not given at all
    return router.run(what, reachable=reachable, playbook=router.playbook, args=args, **values)


def router_form(key):
    """The key as the router's file holds it (base64, after swanctl's 0s)."""
    return base64.b64encode(key.encode()).decode()


def all_requests(router):
    return [(r.method, r.path) for r in router.emulator.requests]


def test_handoff_then_nothing_to_do(router):
    first = role_run(router, "first hand-off", args=["-vvv", "--diff"])
    assert first.returncode == 0, first.run.stdout[-3000:]
    assert first.posts == 1
    assert router.holds_key_in_force() and router.stamp_is_edge_stamp()
    assert router.config.stat().st_mode & 0o777 == 0o600
    assert router.loaded_identity() == router.emulator.ipsec_id(router.tunnel["id"])
    # The router's side of the inside /31 is the other address of Cloudflare's interface_address.
    cloudflare_side = ipaddress.ip_interface(router.tunnel["interface_address"])
    router_side = next(a for a in cloudflare_side.network if a != cloudflare_side.ip)
    assert f"this router is {router_side}/31." in router.config.read_text()
    second = role_run(router, "second run")
    assert (second.returncode, second.posts, second.recap_changed) == (0, 0, 0), second.run.stdout[-3000:]
    assert router.key_leaks() == 0, "a key appeared in ansible-playbook's output or log (-vvv --diff included)"


@pytest.mark.parametrize("stamp_line", ["", "# cloudflare.magic psk 2020-01-01T00:00:00.000000Z",
                                        "# cloudflare.magic psk unverified", "# cloudflare.magic psk not-a-time"],
                         ids=["missing", "stale", "unverified", "garbled"])
def test_a_stamp_that_is_not_cloudflares_rotates_and_repairs(router, stamp_line):
    assert role_run(router, "first hand-off").returncode == 0
    text = re.sub(r"^# cloudflare\.magic psk .*$", stamp_line, router.config.read_text(), flags=re.MULTILINE)
    router.config.write_text(text)
    repaired = role_run(router, "rerun")
    assert repaired.returncode == 0, repaired.run.stdout[-3000:]
    assert repaired.posts == 1 and router.holds_key_in_force() and router.stamp_is_edge_stamp()
    assert router.key_leaks() == 0


def test_a_legacy_stamp_file_alone_is_not_trusted_and_is_removed(router):
    """An older version's cloudflare-<tunnel>.stamp says the edge's stamp, but the configuration has none:
    the key it holds is unknown (an overlapping run may have written it), so the role rotates once."""
    assert role_run(router, "first hand-off").returncode == 0
    edge = router.edge_stamp()
    router.config.write_text(re.sub(r"^# cloudflare\.magic psk .*\n", "", router.config.read_text(), flags=re.M))
    router.legacy_stamp_file.write_text(edge + "\n")
    upgraded = role_run(router, "first run after the upgrade")
    assert upgraded.returncode == 0 and upgraded.posts == 1
    assert router.holds_key_in_force() and router.stamp_is_edge_stamp()
    assert not router.legacy_stamp_file.exists()


def test_a_folder_that_cannot_take_the_key_fails_before_any_request(router):
    run = role_run(router, "no such folder", tunnel_psk_swanctl_conf_dir=str(router.workdir / "missing"))
    assert run.returncode != 0 and "tunnel_psk_swanctl_conf_dir" in run.run.stdout
    assert all_requests(router) == []


def test_an_unreachable_router_fails_before_any_request(router):
    run = role_run(router, "unreachable", reachable=False)
    assert run.returncode != 0 and "UNREACHABLE" in run.run.stdout
    assert all_requests(router) == []


def test_check_mode_rotates_nothing_and_shows_the_change_with_the_key_masked(router):
    assert role_run(router, "first hand-off").returncode == 0
    before = router.config.read_bytes()
    checked = role_run(router, "check and diff", args=["--check", "--diff"], tunnel_psk_max_age="1s",
                       tunnel_psk_ike_id="changed.router.example.net")
    assert checked.returncode == 0, checked.run.stdout[-3000:]
    assert checked.posts == 0, "check mode rotated"
    validated = [r for r in router.emulator.requests if r.query.get("validate_only") == "true"]
    assert len(validated) == 1
    assert router.config.read_bytes() == before and router.holds_key_in_force()
    out = checked.run.stdout
    assert "-    id-router = " in out and "+    id-router = changed.router.example.net" in out, out[-3000:]
    assert "-# cloudflare.magic psk " + router.edge_stamp() in out
    assert "secret = ********" in out and "secret = 0s" not in out
    assert router.key_leaks() == 0, "a key (the router's or a new one) appeared in the check run"


def test_check_mode_on_a_new_router_shows_the_file_it_would_create(router):
    checked = role_run(router, "check and diff", args=["--check", "--diff"])
    assert checked.returncode == 0, checked.run.stdout[-3000:]
    assert checked.posts == 0 and not router.config.exists()
    assert "+    secret = ********" in checked.run.stdout
    assert "+# cloudflare.magic psk (the new key, generated by this run)" in checked.run.stdout


@pytest.mark.parametrize(("inputs", "message"), [
    ({"tunnel_psk_verify": "sometimes"}, "tunnel_psk_verify"),
    ({"tunnel_psk_platform": "junos"}, "tunnel_psk_platform"),
    ({"tunnel_psk_verify_timeout": "soon"}, "tunnel_psk_verify_timeout"),
    ({"tunnel_psk_swanctl_options": {"uri": "x"}}, "tunnel_psk_swanctl_options"),
    # Text where a list belongs (an AWX extra var or survey answer): the argument spec splits it on commas
    # to check it, but the role would get the text, run it as one program name after the rotation, and fail.
    ({"tunnel_psk_swanctl_load_command": "swanctl --load-all"}, "tunnel_psk_swanctl_load_command"),
    ({"tunnel_psk_swanctl_options": "--uri,unix:///var/run/charon.vici"}, "tunnel_psk_swanctl_options"),
    ({"tunnel_psk_tunnel_name": "", "tunnel_psk_tunnel_id": ""}, "exactly one of tunnel_psk_tunnel_name"),
    ({"tunnel_psk_tunnel_id": "0" * 32}, "exactly one of tunnel_psk_tunnel_name"),
], ids=["bool", "choices", "int", "list", "no-tunnel", "both-tunnels", "command-as-text", "options-as-text"])
def test_a_wrong_input_fails_before_any_request(router, inputs, message):
    run = role_run(router, "wrong input", **inputs)
    assert run.returncode != 0
    assert message in run.run.stdout, run.run.stdout[-3000:]
    if message.startswith("tunnel_psk_") and "exactly" not in message:
        assert "Validating arguments against arg spec" in run.run.stdout
    assert all_requests(router) == []


def test_without_a_platform_the_role_fails_naming_tunnel_psk_platform(router):
    run = role_run(router, "no platform", tunnel_psk_platform=None)
    assert run.returncode != 0 and "set tunnel_psk_platform to strongswan, vyos or ios_xe" in run.run.stdout
    assert all_requests(router) == []


@pytest.mark.parametrize("bulk", [False, True], ids=["one-request", "bulk"])
def test_no_key_is_left_in_the_hosts_vars_for_a_later_task_to_print(router, bulk):
    """A later play that dumps the host's variables (a common way to debug a job) must not print the key
    the role handed on: the role's registered results are emptied of keys once the hand-off is over."""
    router.playbook.write_text(router.playbook.read_text() + yaml.safe_dump([{
        "name": "A later play that debugs the job", "hosts": "router", "gather_facts": False,
        "tasks": [{"ansible.builtin.debug": {"var": "hostvars[inventory_hostname]"}}]}]))
    run = role_run(router, "role, then a dump of hostvars", tunnel_psk_bulk=bulk)
    assert run.returncode == 0, run.run.stdout[-3000:]
    assert router.holds_key_in_force() and router.stamp_is_edge_stamp() and "__tunnel_psk_rotation" in run.run.stdout
    keys = router.emulator.generated_psks()
    assert router.key_leaks() == 0 and run.run.hits(*map(router_form, keys)) == 0, "hostvars still hold the key"


@pytest.mark.parametrize("written", ["secret=", "secret\t=  ", "  secret =\t"], ids=["no-spaces", "tab", "indent"])
def test_check_mode_masks_a_key_line_written_in_another_spacing(router, written):
    """swanctl.conf allows any spacing around '='; a router file edited by hand (or by a tool) that writes
    `secret=0s...` must be masked on the router just the same, in the diff and in -vvv's output of the read."""
    assert role_run(router, "first hand-off").returncode == 0
    router.config.write_text(re.sub(r"^\s*secret = ", written, router.config.read_text(), flags=re.MULTILINE))
    checked = role_run(router, "check and diff", args=["-vvv", "--check", "--diff"], tunnel_psk_max_age="1s")
    assert checked.returncode == 0 and checked.posts == 0, checked.run.stdout[-3000:]
    assert "secret = ********" in checked.run.stdout or "secret= ********" in checked.run.stdout
    keys = router.emulator.generated_psks()
    assert router.key_leaks() == 0 and checked.run.hits(*map(router_form, keys)) == 0, "the router's key was shown"
