#!/usr/bin/env bash
# Build the collection's docs site offline: antsibull-docs writes the pages of the installed (or laid out)
# collection cloudflare.magic, guides included, and Sphinx turns them into HTML, warnings as errors.
#   docs/docsite/sphinx/build.sh [OUTPUT_DIR]        (default: docsite-out in the repository root)
# The collection must be on ANSIBLE_COLLECTIONS_PATH (installed, or a checkout laid out as
# ansible_collections/cloudflare/magic). The site is OUTPUT_DIR/build/html/index.html.
set -euo pipefail
here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/../../../docsite-out}"
mkdir -p "$out"
out="$(cd -- "$out" && pwd)"
rm -rf "$out/rst" "$out/build" "$out/ansible_devel.inv"
mkdir -m 0700 "$out/rst"  # antsibull-docs writes only into a folder that only its owner can write
antsibull-docs --config-file "$here/antsibull-docs.cfg" collection --use-current --dest-dir "$out/rst" \
    cloudflare.magic
cp "$here/index.rst" "$out/rst/index.rst"
CLOUDFLARE_MAGIC_DOCSITE_INVENTORY="$out/ansible_devel.inv" sphinx-build -M html "$out/rst" "$out/build" -c "$here" -W --keep-going
echo "Docs site: $out/build/html/index.html"
