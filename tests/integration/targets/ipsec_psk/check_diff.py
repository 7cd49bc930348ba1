"""Run an ansible-playbook command that rotates one tunnel's key with --diff, then check its output.

    python check_diff.py TUNNEL_NAME -- ansible-playbook diff.yml --diff ...

The output must show the tunnel's psk_metadata before and after (as the emulator's control API reports
them) and hold neither the new key nor the API token. The output is shown with both replaced, so a leak
fails the check without printing the secret.
"""

from __future__ import annotations

import os
import subprocess
import sys

from cf_emulator.control import ControlClient

HIDDEN = "[hidden secret]"


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        sys.exit(__doc__)
    name, command = argv[0], argv[2:]
    control = ControlClient(os.environ["CF_EMULATOR_CONTROL_URL"], os.environ.get("CF_EMULATOR_CA_FILE") or None)
    tunnel = next(t for t in control.tunnels() if t["name"] == name)
    before = (tunnel.get("psk_metadata") or {}).get("last_generated_on")

    run = subprocess.run([*command, "-e", f"tunnel_name={name}"], capture_output=True, text=True, check=False)
    output = run.stdout + run.stderr
    edge = control.edge(tunnel["id"])
    secrets = [s for s in (edge["psk"], os.environ.get("CLOUDFLARE_API_TOKEN")) if s]
    shown = output
    for secret in secrets:
        shown = shown.replace(secret, HIDDEN)
    print(shown)

    problems = []
    if run.returncode != 0:
        problems.append(f"ansible-playbook exited with status {run.returncode}")
    if edge["psk"] is None or edge["last_generated_on"] == before:
        problems.append(f"{name}'s key was not rotated")
    expected = [f"--- before: ipsec_tunnel {tunnel['id']} psk_metadata",
                f"+++ after: ipsec_tunnel {tunnel['id']} psk_metadata",
                f"+last_generated_on: {edge['last_generated_on']}"]
    if before:
        expected.append(f"-last_generated_on: {before}")
    lines = output.splitlines()
    problems += [f"the diff lacks the line {line!r}" for line in expected if line not in lines]
    hits = sum(output.count(secret) for secret in secrets)
    print(f"check_diff: {sum(line in lines for line in expected)}/{len(expected)} diff lines found; "
          f"the key and the token occur {hits} time(s) in the output")
    if hits:
        problems.append("the output holds the key or the API token (shown above as " + HIDDEN + ")")
    for problem in problems:
        print(f"check_diff: FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
