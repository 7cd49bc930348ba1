"""How a stored tunnel is answered: the published default form, or the form a request header asks for."""

from __future__ import annotations

import copy
from typing import Any, Mapping

# Cloudflare answers health_check.target as text unless the request carries this header with "true"
# (the Terraform provider v5 sends it on every call); then it is {"effective", "saved"}.
NEW_HC_TARGET_HEADER = "x-magic-new-hc-target"


def wants_new_hc_target(headers: Mapping[str, str] | None) -> bool:
    """True when the request asks for the object form of health_check.target (header value "true")."""
    if not headers:
        return False
    value = headers.get(NEW_HC_TARGET_HEADER)
    return isinstance(value, str) and value.strip().lower() == "true"


def answered_tunnel(tunnel: dict[str, Any], new_hc_target: bool = False) -> dict[str, Any]:
    """A copy of the stored ``tunnel`` as the API answers it.

    The store keeps the object form ``{effective, saved}`` (a seed may give text: then both are that
    text). The text form is the effective target, the address the health check really probes.
    """
    answer = copy.deepcopy(tunnel)
    health_check = answer.get("health_check")
    if isinstance(health_check, dict) and "target" in health_check:
        target = health_check["target"]
        if new_hc_target:
            if not isinstance(target, dict):
                health_check["target"] = {"effective": target, "saved": target}
        elif isinstance(target, dict):
            health_check["target"] = target.get("effective", "")
    return answer
