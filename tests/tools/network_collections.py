#!/usr/bin/env python
"""Put vyos.vyos, cisco.ios and ansible.netcommon (+ ansible.utils, which netcommon needs) into a collections path.

They come from the ``ansible`` package on PyPI (pinned in tests/constraints.txt), which bundles them;
see bundled_collections.py. Prints the collections path.
Usage: network_collections.py DEST   (e.g. .venv/network-collections)
"""

from __future__ import annotations

import sys

from bundled_collections import ensure as _ensure

COLLECTIONS = ("vyos/vyos", "cisco/ios", "ansible/netcommon", "ansible/utils")


# The `ansible` 11 package bundles cisco.ios 9.x and vyos.vyos 5.x: older than the tunnel_psk role needs
# (cisco.ios 11.4.0 for ios_config's content, vyos.vyos 6.0.0 for VyOS 1.4). Only those two are extracted.
OLDER_REQUIREMENT = "ansible>=11,<12"


def ensure(dest):
    return _ensure(dest, COLLECTIONS)


def ensure_older(dest):
    """cisco.ios and vyos.vyos from the `ansible` 11 package, to put before the usual ones on the path."""
    return _ensure(dest, ("cisco/ios", "vyos/vyos"), OLDER_REQUIREMENT)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(ensure(sys.argv[1]).resolve())
