# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of cloudflare.magic.ipsec_psk_bulk: the keys are set from the controller and a
result that holds any is censored (see ``plugin_utils._action``)."""

from __future__ import annotations

from ansible_collections.cloudflare.magic.plugins.module_utils._bulk import (
    IPSEC_PSK_BULK_MUTUALLY_EXCLUSIVE,
    IPSEC_PSK_BULK_REQUIRED_ONE_OF,
    IPSEC_PSK_BULK_SPEC,
    run_bulk_task,
)
from ansible_collections.cloudflare.magic.plugins.plugin_utils._action import KeyHidingAction


class ActionModule(KeyHidingAction):
    MODULE = "cloudflare.magic.ipsec_psk_bulk"
    SPEC = IPSEC_PSK_BULK_SPEC
    MUTUALLY_EXCLUSIVE = IPSEC_PSK_BULK_MUTUALLY_EXCLUSIVE
    REQUIRED_ONE_OF = IPSEC_PSK_BULK_REQUIRED_ONE_OF

    def run_module(self, params, environ, pacing):
        return run_bulk_task(params, environ, check_mode=bool(self._task.check_mode), pacing=pacing)

    def holds_key(self, result):
        return any("psk" in entry for entry in (result.get("rotated") or {}).values())

    def summary(self, result):
        keyed = sum("psk" in entry for entry in (result.get("rotated") or {}).values())
        return (f"{keyed} tunnel(s) got a new key in force. The result below is censored because it holds the keys: "
                "register it and hand each router its own key in a task with no_log: true.")
