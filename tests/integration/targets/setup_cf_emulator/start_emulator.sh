#!/usr/bin/env bash
# Sourced by a target's runme.sh (which sets `here` to its own folder): start the local Cloudflare API
# emulator on loopback (HTTPS with its own CA), export the CLOUDFLARE_* variables that point the collection
# at it, and stop it when the script exits. Sets emulator_dir (for PYTHONPATH), python and inventory.

# ansible-test runs a copy of the targets from tests/output/.tmp/... inside the collection, so the emulator
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

emulator_work="$(mktemp -d)"
stop_emulator() {
  if [ -n "${CF_EMULATOR_PID:-}" ] && kill "$CF_EMULATOR_PID" 2>/dev/null; then
    for _ in $(seq 50); do kill -0 "$CF_EMULATOR_PID" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$emulator_work"
}
trap stop_emulator EXIT

PYTHONPATH="$emulator_dir" "$python" -m cf_emulator.process --state-dir "$emulator_work/emulator" \
  --env-file "$emulator_work/env.sh"
# shellcheck disable=SC1091
. "$emulator_work/env.sh"  # CF_EMULATOR_PID, CF_EMULATOR_CA_FILE, CF_EMULATOR_CONTROL_URL, CLOUDFLARE_* (seed credentials)

inventory=(-i "${INVENTORY_PATH:-localhost,}")
