# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding a Magic IPsec tunnel by id or by name. For internal collection use only.

A tunnel object can hold secrets besides the PSK (``bgp.md5_key`` is one in Cloudflare's schema), and
the module returns the object as ``tunnel``: every tunnel leaves this file through
``hide_tunnel_secrets``, so no path (max_age, check mode, name look-up, diff) can show one.
"""

from __future__ import annotations

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import ApiError, TunnelLookupError

SECRET_MARKER = "VALUE_HIDDEN_BY_CLOUDFLARE_MAGIC"
# A field is secret-shaped when its name holds one of these words, whatever else the schema adds later.
_SECRET_WORDS = ("key", "secret", "password", "passwd", "token", "psk", "credential")
_HARMLESS_NAMES = frozenset(("psk_metadata",))  # when the PSK was made, not the PSK


def hide_tunnel_secrets(value):
    """A copy of ``value`` in which every secret-shaped field, at any depth, holds SECRET_MARKER.

    Null and empty values are kept: they say that no secret is set, not what it is.
    """
    if isinstance(value, dict):
        return {name: SECRET_MARKER if _secret_shaped(name) and item not in (None, "") else hide_tunnel_secrets(item)
                for name, item in value.items()}
    if isinstance(value, list):
        return [hide_tunnel_secrets(item) for item in value]
    return value


def _secret_shaped(name):
    lowered = str(name).lower()
    return lowered not in _HARMLESS_NAMES and any(word in lowered for word in _SECRET_WORDS)


def tunnels_path(account_id):
    return f"/accounts/{account_id}/magic/ipsec_tunnels"


def get_tunnel(client, account_id, tunnel_id):
    result = client.call("GET", f"{tunnels_path(account_id)}/{tunnel_id}")
    tunnel = result.get("ipsec_tunnel") if isinstance(result, dict) else None
    if not isinstance(tunnel, dict):
        raise ApiError(200, [], "the tunnel answer has no ipsec_tunnel object")
    return hide_tunnel_secrets(tunnel)


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
    return hide_tunnel_secrets(matches[0])
