#!/usr/bin/env bash
# ansible-test integration target: start the local Cloudflare API emulator on loopback (HTTPS with its own
# CA), point the collection at it through CLOUDFLARE_* variables, run the playbooks, stop the emulator.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# shellcheck source=../setup_cf_emulator/start_emulator.sh
. "$here/../setup_cf_emulator/start_emulator.sh"  # emulator_dir, python, inventory; stops it on exit

ansible-playbook "${inventory[@]}" "$here/rotate.yml" "$@"
PYTHONPATH="$emulator_dir" "$python" "$here/check_diff.py" tunnel_sin_01 -- \
  ansible-playbook "${inventory[@]}" "$here/diff.yml" --diff "$@"
