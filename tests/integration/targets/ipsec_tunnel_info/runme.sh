#!/usr/bin/env bash
# ansible-test integration target: start the local Cloudflare API emulator on loopback (HTTPS with its own
# CA), point the collection at it through CLOUDFLARE_* variables, run the playbook, stop the emulator
# (the same start as targets/ipsec_psk/runme.sh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# ansible-test runs a copy of this folder from tests/output/.tmp/... inside the collection, so the emulator
# (tests/emulator) is found by walking up to the collection root, or through ANSIBLE_COLLECTIONS_PATH.
find_emulator() {
  local dir="$here" root
  while [ "$dir" != "/" ]; do
    [ -f "$dir/tests/emulator/cf_emulator/__main__.py" ] && { echo "$dir/tests/emulator"; return; }
    dir="$(dirname "$dir")"
  done
  IFS=: read -ra roots <<< "${ANSIBLE_COLLECTIONS_PATH:-}"
  for root in "${roots[@]}"; do
    dir="$root/ansible_collections/cloudflare/magic/tests/emulator"
    [ -f "$dir/cf_emulator/__main__.py" ] && { echo "$dir"; return; }
  done
  echo "runme.sh: cannot find tests/emulator of cloudflare.magic" >&2
  return 1
}
emulator_dir="$(find_emulator)"
python="${ANSIBLE_TEST_PYTHON_INTERPRETER:-python}"

work="$(mktemp -d)"
stop_emulator() {
  if [ -n "${CF_EMULATOR_PID:-}" ] && kill "$CF_EMULATOR_PID" 2>/dev/null; then
    for _ in $(seq 50); do kill -0 "$CF_EMULATOR_PID" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$work"
}
trap stop_emulator EXIT

PYTHONPATH="$emulator_dir" "$python" -m cf_emulator.process --state-dir "$work/emulator" --env-file "$work/env.sh"
# shellcheck disable=SC1091
. "$work/env.sh"  # CF_EMULATOR_PID, CF_EMULATOR_CA_FILE, CF_EMULATOR_CONTROL_URL, CLOUDFLARE_* (seed credentials)

inventory=(-i "${INVENTORY_PATH:-localhost,}")
ansible-playbook "${inventory[@]}" "$here/report.yml" "$@"
