#!/usr/bin/env python
"""Put vyos.vyos, cisco.ios and ansible.netcommon (+ ansible.utils, which netcommon needs) into a collections path,
and community.hashi_vault (the tunnel_psk role's escrow tasks; lint resolves them from here).

They come from the ``ansible`` package on PyPI (pinned in tests/constraints.txt), which bundles them;
see bundled_collections.py. Prints the collections path.
Usage: network_collections.py DEST   (e.g. .venv/network-collections)
"""

from __future__ import annotations

import sys

from bundled_collections import ensure as _ensure

COLLECTIONS = ("vyos/vyos", "cisco/ios", "ansible/netcommon", "ansible/utils", "community/hashi_vault")


def ensure(dest):
    return _ensure(dest, COLLECTIONS)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(ensure(sys.argv[1]).resolve())
