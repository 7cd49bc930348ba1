# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of cloudflare.magic.ipsec_psk: the key is generated from the controller and its
result is censored (see ``plugin_utils._action``)."""

from __future__ import annotations

from ansible_collections.cloudflare.magic.plugins.module_utils._options import (
    IPSEC_PSK_MUTUALLY_EXCLUSIVE,
    IPSEC_PSK_REQUIRED_ONE_OF,
    IPSEC_PSK_SPEC,
)
from ansible_collections.cloudflare.magic.plugins.module_utils._rotation import run_task
from ansible_collections.cloudflare.magic.plugins.plugin_utils._action import KeyHidingAction, printable


class ActionModule(KeyHidingAction):
    MODULE = "cloudflare.magic.ipsec_psk"
    SPEC = IPSEC_PSK_SPEC
    MUTUALLY_EXCLUSIVE = IPSEC_PSK_MUTUALLY_EXCLUSIVE
    REQUIRED_ONE_OF = IPSEC_PSK_REQUIRED_ONE_OF

    def run_module(self, params, environ, pacing):
        return run_task(params, environ, check_mode=bool(self._task.check_mode), diff=bool(self._task.diff),
                        pacing=pacing)

    def holds_key(self, result):
        return "psk" in result

    def summary(self, result):
        tunnel = result.get("ipsec_tunnel_id")
        name = (result.get("tunnel") or {}).get("name")
        which = f"{name} ({tunnel})" if name else tunnel
        stamp = (result.get("psk_metadata") or {}).get("last_generated_on")
        return printable(
            f"tunnel {which}: a new key is in force (rotation_reason: {result.get('rotation_reason')}, "
            f"last_generated_on: {stamp}). The result below is censored because it holds the key: register it "
            "and hand its psk on in a task with no_log: true.")
