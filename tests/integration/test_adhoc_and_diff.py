"""What a person sees: an ad-hoc run says which tunnel got a key and why (the result itself stays censored, the key
nowhere), and --diff prints the same -/+ lines in check mode and in a real run."""

from __future__ import annotations

import re
import subprocess

from support.playbooks import BIN, play, rotate_task, seed_account


def tunnel(emulator, name):
    return next(t for t in seed_account(emulator)["tunnels"] if t["name"] == name)


def test_an_ad_hoc_rotation_says_what_it_did_without_the_key(playbooks, emulator):
    t = tunnel(emulator, "tunnel_fra_01")
    done = subprocess.run(
        [str(BIN / "ansible"), "localhost", "-m", "cloudflare.magic.ipsec_psk",
         "-a", f"ipsec_tunnel_name=tunnel_fra_01 max_age=90d ca_path={emulator.ca_file}"],
        cwd=playbooks.workdir, env=playbooks.environment(), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    stamp = emulator.tunnel(t["id"])["psk_metadata"]["last_generated_on"]
    assert (f"cloudflare.magic.ipsec_psk [localhost]: tunnel tunnel_fra_01 ({t['id']}): a new key is in force "
            f"(rotation_reason: max_age, last_generated_on: {stamp})") in done.stdout
    assert "register it and hand its psk on in a task with no_log: true" in done.stdout
    assert "censored" in done.stdout  # the result itself stays hidden: it holds the key
    key = emulator.edge_psk(t["id"])
    assert key and (done.stdout + done.stderr).count(key) == 0 and done.stdout.count(playbooks.token) == 0


def diff_block(stdout):
    """The lines of the diff under the task: headers, hunk and -/+ lines, without the values that differ."""
    lines = [line for line in stdout.splitlines() if re.match(r"^(---|\+\+\+|@@|[-+ ]last_generated_on)", line)]
    return [re.sub(r"(last_generated_on: ).*", r"\1...", line) for line in lines]


def test_check_mode_and_a_real_run_print_the_diff_in_one_format(playbooks, emulator):
    t = tunnel(emulator, "tunnel_fra_01")
    before = emulator.tunnel(t["id"])["psk_metadata"]["last_generated_on"]
    task = rotate_task(emulator, ipsec_tunnel_id=t["id"], max_age="90d")
    checked = playbooks.run(play(task), "--diff", "--check")
    real = playbooks.run(play(task), "--diff")
    assert checked.returncode == 0 and real.returncode == 0, checked.stdout + real.stdout
    label = f"ipsec_tunnel {t['id']} psk_metadata"
    expected = [f"--- before: {label}", f"+++ after: {label}", "@@ -1 +1 @@", "-last_generated_on: ...",
                "+last_generated_on: ..."]
    assert diff_block(checked.stdout) == expected and diff_block(real.stdout) == expected
    assert f"-last_generated_on: {before}" in checked.stdout and f"-last_generated_on: {before}" in real.stdout
    assert "+last_generated_on: (a new key would be generated now)" in checked.stdout
    assert '"psk_metadata"' not in checked.stdout + real.stdout  # no JSON block any more
    assert real.hits(emulator.edge_psk(t["id"]), playbooks.token) == 0
