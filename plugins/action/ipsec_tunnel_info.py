# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of cloudflare.magic.ipsec_tunnel_info: the same options, task environment and pacing
as the rotating modules (see ``plugin_utils._action``). Its result never holds a key, so nothing is censored."""

from __future__ import annotations

from ansible_collections.cloudflare.magic.plugins.module_utils._info import (
    IPSEC_TUNNEL_INFO_MUTUALLY_EXCLUSIVE,
    IPSEC_TUNNEL_INFO_SPEC,
    run_info_task,
)
from ansible_collections.cloudflare.magic.plugins.plugin_utils._action import KeyHidingAction


class ActionModule(KeyHidingAction):
    MODULE = "cloudflare.magic.ipsec_tunnel_info"
    SPEC = IPSEC_TUNNEL_INFO_SPEC
    MUTUALLY_EXCLUSIVE = IPSEC_TUNNEL_INFO_MUTUALLY_EXCLUSIVE

    def run_module(self, params, environ, pacing):
        # Read-only: check mode sends the same single GET and gets the same answer.
        return run_info_task(params, environ, pacing=pacing)

    def holds_key(self, result):
        return False  # tunnels come through _rotation.list_tunnels, secrets hidden; no key is ever fetched
