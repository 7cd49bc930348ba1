# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of cloudflare.magic.ipsec_psk_bulk: the same hiding as ipsec_psk's action plugin.

A result that holds any key is marked ``_ansible_no_log``, and the task itself is made ``no_log`` so
that a loop's per-item results and its summary stay censored on ansible-core lines that look at the
task rather than the result. Warnings of a censored result would be dropped with it; they name
tunnels only, so they are shown here.
"""

from __future__ import annotations

import os

from ansible import constants as C
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.cloudflare.magic.plugins.module_utils._bulk import (
    IPSEC_PSK_BULK_MUTUALLY_EXCLUSIVE,
    IPSEC_PSK_BULK_REQUIRED_ONE_OF,
    IPSEC_PSK_BULK_SPEC,
    run_bulk_task,
)
from ansible_collections.cloudflare.magic.plugins.module_utils._errors import redact
from ansible_collections.cloudflare.magic.plugins.plugin_utils._pacing import controller_pacing


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        validation = ArgumentSpecValidator(
            IPSEC_PSK_BULK_SPEC,
            mutually_exclusive=IPSEC_PSK_BULK_MUTUALLY_EXCLUSIVE,
            required_one_of=IPSEC_PSK_BULK_REQUIRED_ONE_OF,
        ).validate(self._task.args)
        if validation.error_messages:
            # Built here rather than by validate_argument_spec, whose exception carries the task's args.
            messages = "; ".join(validation.error_messages)
            result.update(failed=True, changed=False,
                          msg=redact(f"Invalid options for cloudflare.magic.ipsec_psk_bulk: {messages}",
                                     validation._no_log_values))
            return result
        params = validation.validated_parameters
        pacing = controller_pacing(C.DEFAULT_LOCAL_TMP, str(params.get("api_base_url") or ""),
                                   max_wait=params.get("rate_limit_max_wait"))
        try:
            result.update(run_bulk_task(params, os.environ, check_mode=bool(self._task.check_mode), pacing=pacing))
        finally:
            pacing.close()
        if pacing.problem:
            result.setdefault("warnings", []).append(pacing.problem)
        if any("psk" in entry for entry in (result.get("rotated") or {}).values()):
            result["_ansible_no_log"] = True
            self._task.no_log = True
            for warning in result.pop("warnings", []):
                self._display.warning(warning)
            if result.get("failed") and result.get("msg"):
                # The failure message names tunnels only; a censored result would hide it.
                self._display.error(result["msg"])
        return result
