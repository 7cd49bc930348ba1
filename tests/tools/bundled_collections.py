#!/usr/bin/env python
"""Put some of the collections that the ``ansible`` package bundles into a collections path.

The ``ansible`` wheel (pinned in tests/constraints.txt) is downloaded once (no install) and only the
named collection folders are extracted into DEST, which then serves as a collections path. A lock
file lets parallel test workers share one DEST. Prints the collections path.
Usage: bundled_collections.py DEST NAMESPACE/NAME...   (e.g. .venv/callback-collections ansible/posix)
``ensure(..., requirement="ansible>=11,<12")`` takes another release of the package than the pinned one (tests of
what the role does with older vendor collections), into a DEST of its own.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def ensure(dest, names, requirement=None):
    """``requirement``: the ``ansible`` wheel to take them from (e.g. ``ansible==13.8.0`` for a collection the
    pinned release no longer bundles); by default the pin of tests/constraints.txt."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / ".lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one worker downloads, the others wait and reuse its folder
        return _extract(dest, names, requirement)


def _extract(dest, names, requirement=None):
    if all((dest / "ansible_collections" / name).is_dir() for name in names):
        return dest
    wheels = dest / "wheel"
    wheels.mkdir(exist_ok=True)
    if not list(wheels.glob("ansible-*.whl")):
        pinned = ["-c", str(ROOT / "tests" / "constraints.txt"), "ansible"] if requirement is None else [requirement]
        # The wheel is only unpacked, never installed: an older core's Python (3.11) may fetch the pinned
        # release too, although that release installs on 3.12 and later only.
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                        "--no-deps", "--only-binary", ":all:", "--python-version", "3.12", "-d", str(wheels),
                        *pinned], check=True)
    wheel = next(wheels.glob("ansible-*.whl"))
    prefixes = tuple(f"ansible_collections/{name}/" for name in names)
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(dest, [n for n in archive.namelist() if n.startswith(prefixes)])
    wheel.unlink()  # 50 MB we no longer need
    return dest


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    print(ensure(sys.argv[1], sys.argv[2:]).resolve())
