# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for what the tunnel_psk role hands a router: the inside address, the IKE identity, the stamp, and
the refusals of values the router's configuration must not be given. Each is documented in ``<name>.yml``
beside this file; the logic lives in ``plugin_utils/_handoff.py``."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.cloudflare.magic.plugins.plugin_utils import _handoff


def router_inside_address(interface_address):
    try:
        return _handoff.router_inside_address(interface_address)
    except _handoff.HandoffValueError as problem:
        raise AnsibleFilterError(f"cloudflare.magic.router_inside_address: {problem}") from None


def ike_identity(answer, ike_id=None):
    return _handoff.ike_identity_source(answer, ike_id)[0]


def psk_stamp(time="", state="in_force"):
    try:
        return _handoff.psk_stamp(time, state)
    except _handoff.HandoffValueError as problem:
        raise AnsibleFilterError(f"cloudflare.magic.psk_stamp: {problem}") from None


def psk_stamp_time(text):
    return _handoff.stamp_in_force(text)


def answer_refusals(answer, platform, ike_id=None, stamp_required=None, identity_required=False):
    return _handoff.answer_refusals(answer, platform, ike_id, stamp_required, identity_required)


def name_refusals(names):
    if not isinstance(names, dict):
        raise AnsibleFilterError("cloudflare.magic.name_refusals: give a mapping of option names to values")
    return _handoff.name_refusals(names)


class FilterModule:
    """The tunnel_psk role's hand-off filters."""

    def filters(self):
        return {
            "router_inside_address": router_inside_address,
            "ike_identity": ike_identity,
            "psk_stamp": psk_stamp,
            "psk_stamp_time": psk_stamp_time,
            "answer_refusals": answer_refusals,
            "name_refusals": name_refusals,
        }
