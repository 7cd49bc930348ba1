#!/usr/bin/env python
"""Put vyos.vyos, cisco.ios and ansible.netcommon (+ ansible.utils, which netcommon needs) into a collections path.

They come from the ``ansible`` package on PyPI (pinned in tests/constraints.txt), which bundles them:
its wheel is downloaded once (no install) and only those collection folders are extracted. Prints the
collections path. Usage: network_collections.py DEST   (e.g. .venv/network-collections)
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

COLLECTIONS = ("vyos/vyos", "cisco/ios", "ansible/netcommon", "ansible/utils")
ROOT = Path(__file__).resolve().parents[2]


def ensure(dest):
    dest = Path(dest)
    done = dest / ".extracted"
    if done.exists():
        return dest
    wheels = dest / "wheel"
    wheels.mkdir(parents=True, exist_ok=True)
    if not list(wheels.glob("ansible-*.whl")):
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                        "--no-deps", "--only-binary", ":all:", "-c", str(ROOT / "tests" / "constraints.txt"),
                        "-d", str(wheels), "ansible"], check=True)
    wheel = next(wheels.glob("ansible-*.whl"))
    prefixes = tuple(f"ansible_collections/{name}/" for name in COLLECTIONS)
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(dest, [n for n in archive.namelist() if n.startswith(prefixes)])
    wheel.unlink()  # 50 MB we no longer need
    done.write_text(wheel.name + "\n")
    return dest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(ensure(sys.argv[1]).resolve())
