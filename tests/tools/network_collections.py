#!/usr/bin/env python
"""Put vyos.vyos, cisco.ios, fortinet.fortios and ansible.netcommon (+ ansible.utils, which netcommon needs) into a
collections path, and community.hashi_vault (the tunnel_psk role's escrow tasks; lint resolves them from here).

They come from the ``ansible`` package on PyPI (pinned in tests/constraints.txt), which bundles them;
see bundled_collections.py. junipernetworks.junos left the ``ansible`` package with 14.0 (it moved to
``juniper.device`` on Galaxy), so it comes from the last release that bundles it, ``JUNOS_WHEEL``, into a
folder of its own (``ensure_junos``), beside the others on the collections path. Prints the collections path.
Usage: network_collections.py DEST [--junos]   (e.g. .venv/network-collections, .venv/junos-collections --junos)
"""

from __future__ import annotations

import sys

from bundled_collections import ensure as _ensure

COLLECTIONS = ("vyos/vyos", "cisco/ios", "fortinet/fortios", "ansible/netcommon", "ansible/utils",
               "community/hashi_vault")
# junipernetworks.junos 11.0.0 (needs ansible.netcommon >= 8.1.0, which the pinned wheel's netcommon is).
JUNOS_WHEEL = "ansible==13.8.0"


# The `ansible` 11 package bundles cisco.ios 9.x and vyos.vyos 5.x: older than the tunnel_psk role needs
# (cisco.ios 11.4.0 for ios_config's content, vyos.vyos 6.0.0 for VyOS 1.4). Only those two are extracted.
OLDER_REQUIREMENT = "ansible>=11,<12"


# community.hashi_vault 7.x (the pinned wheel's) requires ansible-core 2.17; the `ansible` 9 package, the one for
# ansible-core 2.16, bundles 6.x, which the escrow tasks run with on 2.16.
HASHI_VAULT_2_16 = "ansible>=9,<10"


def ensure(dest):
    return _ensure(dest, COLLECTIONS)


def ensure_junos(dest):
    return _ensure(dest, ("junipernetworks/junos",), JUNOS_WHEEL)


def ensure_hashi_vault_2_16(dest):
    """community.hashi_vault 6.x from the `ansible` 9 package, for ansible-core 2.16."""
    return _ensure(dest, ("community/hashi_vault",), HASHI_VAULT_2_16)


def ensure_older(dest):
    """cisco.ios and vyos.vyos from the `ansible` 11 package, to put before the usual ones on the path."""
    return _ensure(dest, ("cisco/ios", "vyos/vyos"), OLDER_REQUIREMENT)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3) or sys.argv[2:] not in ([], ["--junos"]):
        sys.exit(__doc__)
    print((ensure_junos if sys.argv[2:] else ensure)(sys.argv[1]).resolve())
