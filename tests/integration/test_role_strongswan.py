"""The tunnel_psk role on a strongSwan router folder, driven with its own inputs (tunnel_psk_*).

The router is a folder (its swanctl conf.d) reached through an inventory host; the load command copies the
configuration where charon would load it (tests/support/ipsec_example_runs.py). Each run is counted from the
emulator's request record. Keys are compared, never printed; every run's stdout and log are searched for them.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import stat
import sys
import time

import pytest
import yaml

from cf_emulator import Emulator
from support.ipsec_example_runs import LOADED, StrongswanRouter, seed_with_custom_identity

pytestmark = pytest.mark.slow(reason=(
    "each test drives one or more whole role runs (preflight, rotation, hand-off, load and verification) "
    "and checks the state between them"))


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


def role_inputs(router, **inputs):
    """The role's inputs for the router folder; the load command stands for charon's (None: not given)."""
    values = {"tunnel_psk_platform": "strongswan", "tunnel_psk_tunnel_name": router.tunnel["name"],
              "tunnel_psk_swanctl_conf_dir": str(router.conf_dir), "tunnel_psk_ca_path": router.emulator.ca_file,
              "tunnel_psk_swanctl_load_command": ["cp", str(router.config), str(router.conf_dir.parent / LOADED)],
              "tunnel_psk_verify": False}
    values.update(inputs)
    return {k: v for k, v in values.items() if v is not None}


def role_run(router, what, args=(), reachable=True, **inputs):
    """Run the role with its own inputs; the router folder's load command stands for charon's."""
    return router.run(what, reachable=reachable, playbook=router.playbook, args=args, **role_inputs(router, **inputs))


def wait_for(path, started, timeout=120):
    """Block until ``path`` exists (a stand-in reached the point the test waits for) while the run goes on."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert started["process"].poll() is None, started["process"].communicate()[0][-3000:]
        assert time.monotonic() < deadline, f"the run never reached {path.name}"
        time.sleep(0.05)


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
                       tunnel_psk_allow_short_max_age=True,
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
    ({"tunnel_psk_platform": "edgeos"}, "value of tunnel_psk_platform must be one of"),
    ({"tunnel_psk_verify_timeout": "soon"}, "tunnel_psk_verify_timeout"),
    ({"tunnel_psk_swanctl_options": {"uri": "x"}}, "tunnel_psk_swanctl_options"),
    # Text where a list belongs (an AWX extra var or survey answer): the argument spec splits it on commas
    # to check it, but the role would get the text, run it as one program name after the rotation, and fail.
    ({"tunnel_psk_swanctl_load_command": "swanctl --load-all"}, "tunnel_psk_swanctl_load_command"),
    ({"tunnel_psk_swanctl_options": "--uri,unix:///var/run/charon.vici"}, "tunnel_psk_swanctl_options"),
    ({"tunnel_psk_tunnel_name": "", "tunnel_psk_tunnel_id": ""}, "exactly one of tunnel_psk_tunnel_name"),
    ({"tunnel_psk_tunnel_id": "0" * 32}, "exactly one of tunnel_psk_tunnel_name"),
    # An AWX survey answer of 90 (meant as days) or 3m (meant as months): every run would rotate.
    ({"tunnel_psk_max_age": "90"}, "tunnel_psk_max_age '90' must be a whole number with its unit"),
    ({"tunnel_psk_max_age": "3m"}, "at least 1h: a shorter age rotates the key at nearly every run. Set "
                                   "tunnel_psk_allow_short_max_age to true"),
], ids=["bool", "choices", "int", "list", "no-tunnel", "both-tunnels", "command-as-text", "options-as-text",
        "max-age-without-unit", "max-age-of-minutes"])
def test_a_wrong_input_fails_before_any_request(router, inputs, message):
    run = role_run(router, "wrong input", **inputs)
    assert run.returncode != 0
    assert message in run.run.stdout, run.run.stdout[-3000:]
    if message.startswith("tunnel_psk_") and "exactly" not in message:
        assert "Validating arguments against arg spec" in run.run.stdout
    assert all_requests(router) == []


def test_every_wrong_input_of_the_host_is_named_in_one_run(router):
    """Two wrong inputs: the run names both (not only the first it checks), and sends nothing."""
    run = role_run(router, "two wrong inputs", tunnel_psk_tunnel_id="0" * 32, tunnel_psk_max_age="90")
    assert run.returncode != 0
    assert "Give exactly one of tunnel_psk_tunnel_name and tunnel_psk_tunnel_id" in run.run.stdout, \
        run.run.stdout[-3000:]
    assert "tunnel_psk_max_age '90' must be a whole number with its unit" in run.run.stdout, run.run.stdout[-3000:]
    assert all_requests(router) == []


def test_without_a_platform_the_role_fails_naming_tunnel_psk_platform(router):
    run = role_run(router, "no platform", tunnel_psk_platform=None)
    assert run.returncode != 0 and "set tunnel_psk_platform to strongswan, vyos, ios_xe, junos or fortios" in run.run.stdout
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
    checked = role_run(router, "check and diff", args=["-vvv", "--check", "--diff"], tunnel_psk_max_age="1s",
                       tunnel_psk_allow_short_max_age=True)
    assert checked.returncode == 0 and checked.posts == 0, checked.run.stdout[-3000:]
    assert "secret = ********" in checked.run.stdout or "secret= ********" in checked.run.stdout
    keys = router.emulator.generated_psks()
    assert router.key_leaks() == 0 and checked.run.hits(*map(router_form, keys)) == 0, "the router's key was shown"


def test_a_run_killed_while_charon_loads_leaves_a_pending_stamp_and_the_next_run_loads_the_key(router):
    """SIGKILL (an AWX cancel, an OOM kill) inside the load: no rescue runs. The key was written under
    "pending <time>", which the next run takes for no stamp: it rotates, loads, proves the load, and
    records the stamp in force; the run after that has nothing to do."""
    loading = router.workdir / "charon-is-loading"
    killed = router.start("killed while loading", playbook=router.playbook, **role_inputs(
        router, tunnel_psk_swanctl_load_command=["sh", "-c", f'touch "{loading}"; exec sleep 300']))
    wait_for(loading, killed)
    assert router.stamp() == "pending " + router.edge_stamp(), "the key was written with a stamp in force"
    router.kill(killed)
    assert router.loaded_key() is None
    nxt = role_run(router, "next run")
    assert nxt.returncode == 0, nxt.run.stdout[-3000:]
    assert nxt.posts == 1, "the next run trusted the killed run's stamp"
    assert router.holds_key_in_force() and router.stamp_is_edge_stamp()
    quiet = role_run(router, "the run after")
    assert (quiet.returncode, quiet.posts, quiet.recap_changed) == (0, 0, 0), quiet.run.stdout[-3000:]
    assert router.key_leaks() == 0


def test_a_load_charon_does_not_show_keeps_the_stamp_pending_then_unverified(router):
    """Without verification the load is proven by the connection in swanctl --list-conns: a load command that
    succeeds without loading anything leaves the stamp unverified (the rescue), and the run fails."""
    run = role_run(router, "load that loads nothing", tunnel_psk_swanctl_load_command=["true"])
    assert run.returncode != 0 and "swanctl --list-conns" in run.run.stdout, run.run.stdout[-3000:]
    assert router.stamp() == "unverified" and router.loaded_key() is None
    nxt = role_run(router, "next run")
    assert nxt.returncode == 0 and nxt.posts == 1 and router.holds_key_in_force() and router.stamp_is_edge_stamp()


def test_the_key_rendered_on_the_controller_is_private_while_written_and_after_a_kill(router):
    """ansible-playbook killed while the file with the key is on its way to the router: every file under the
    controller's local temp folder that holds the key is 0600 in folders of 0700, at the kill and after it
    (Ansible leaves it behind: no cleanup runs on SIGKILL). The next run repairs the router."""
    local_tmp, writing = router.workdir / "controller-tmp", router.workdir / "key-file-on-the-controller"
    local_tmp.mkdir(mode=0o700)
    interpreter = router.workdir / "python-that-waits"
    # The module run right after the controller wrote its temp file (the copy's stat of the router's file)
    # waits there: the moment the file with the key exists on the controller.
    interpreter.write_text(
        "#!/bin/sh\n"
        f'if find "{local_tmp}" -type f ! -path "*/ansiballz_cache/*" | grep -q .; then\n'
        f'  touch "{writing}"; exec sleep 300\nfi\n'
        f'exec "{sys.executable}" "$@"\n')
    interpreter.chmod(0o700)
    killed = router.start("killed while writing", environment={"ANSIBLE_LOCAL_TEMP": str(local_tmp)},
                          playbook=router.playbook, ansible_python_interpreter=str(interpreter),
                          **role_inputs(router))
    wait_for(writing, killed)
    key_form = router_form(router.emulator.edge_psk(router.tunnel["id"])).encode()

    def key_files():
        found = [p for p in local_tmp.rglob("*") if p.is_file() and key_form in p.read_bytes()]
        assert found, "no file with the key on the controller: the test did not stop at the write"
        return found

    def modes(paths):
        return {p.relative_to(local_tmp).as_posix(): oct(stat.S_IMODE(p.stat().st_mode)) for p in paths}

    for moment in ("at the kill", "after the kill"):
        files = key_files()
        folders = {parent for p in files for parent in p.parents if local_tmp in parent.parents}
        assert set(modes(files).values()) == {"0o600"}, (moment, modes(files))
        assert set(modes(folders).values()) <= {"0o700"}, (moment, modes(folders))
        if moment == "at the kill":
            router.kill(killed)
    assert not router.config.exists()
    nxt = role_run(router, "next run")
    assert nxt.returncode == 0 and nxt.posts == 1 and router.holds_key_in_force(), nxt.run.stdout[-3000:]
    assert router.key_leaks() == 0


def test_verification_refuses_to_rotate_when_charon_would_break_before_it_makes(router):
    """With tunnel_psk_verify, a strongswan.conf without make_before_break = yes (and a charon that does not
    answer with strongSwan 6's default) stops the run in the preflight, naming the fix; nothing is sent."""
    conf = router.workdir / "strongswan.conf"
    conf.write_text("charon {\n  make_before_break = no\n}\n")
    run = role_run(router, "break before make", tunnel_psk_verify=True, tunnel_psk_strongswan_conf=str(conf))
    assert run.returncode != 0, run.run.stdout[-3000:]
    out = " ".join(run.run.stdout.split())
    assert "make_before_break is 'no'" in out and "tunnel_psk_swanctl_require_make_before_break" in out, out[-3000:]
    assert all_requests(router) == []
