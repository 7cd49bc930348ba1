# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding a Magic IPsec tunnel by id or by name. For internal collection use only."""

from __future__ import annotations

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import ApiError, TunnelLookupError


def tunnels_path(account_id):
    return f"/accounts/{account_id}/magic/ipsec_tunnels"


def get_tunnel(client, account_id, tunnel_id):
    result = client.call("GET", f"{tunnels_path(account_id)}/{tunnel_id}")
    tunnel = result.get("ipsec_tunnel") if isinstance(result, dict) else None
    if not isinstance(tunnel, dict):
        raise ApiError(200, [], "the tunnel answer has no ipsec_tunnel object")
    return tunnel


def find_tunnel_by_name(client, account_id, name):
    """The one tunnel called ``name`` (names are unique at Cloudflare); TunnelLookupError otherwise."""
    result = client.call("GET", tunnels_path(account_id))
    tunnels = result.get("ipsec_tunnels") if isinstance(result, dict) else None
    if not isinstance(tunnels, list):
        raise ApiError(200, [], "the tunnel list answer has no ipsec_tunnels list")
    matches = [t for t in tunnels if isinstance(t, dict) and t.get("name") == name]
    if len(matches) != 1:
        raise TunnelLookupError(
            f"ipsec_tunnel_name: {len(matches)} of the account's {len(tunnels)} IPsec tunnels are named "
            f"{name!r} (exactly one must be); no key was rotated. Check the name, or use ipsec_tunnel_id.")
    return matches[0]
