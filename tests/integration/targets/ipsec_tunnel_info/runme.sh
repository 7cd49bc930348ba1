#!/usr/bin/env bash
# ansible-test integration target: start the local Cloudflare API emulator on loopback (HTTPS with its own
# CA), point the collection at it through CLOUDFLARE_* variables, run the playbook, stop the emulator.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# shellcheck source=../setup_cf_emulator/start_emulator.sh
. "$here/../setup_cf_emulator/start_emulator.sh"  # emulator_dir, python, inventory; stops it on exit

ansible-playbook "${inventory[@]}" "$here/report.yml" "$@"
