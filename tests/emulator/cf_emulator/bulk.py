"""Set PSKs in bulk: ``POST /accounts/{a}/magic/ipsec_tunnels/psk?validate_only=``.

Published shape: body ``{"psks": [{"id", "psk"}]}``; result ``{"successfully_applied_psks": {id: {ipsec_id,
ipsec_tunnel_id, psk, psk_metadata}}, "unapplied_psks": {id: reason}}``. Auth, rate limits, faults and the
request record are the same as for every route (see app.py); this file holds what the route itself does.

Cloudflare documents neither a largest batch nor which keys it refuses; the emulator's rules, chosen
here and listed in docs/emulator.md:
- the request fails as a whole (400) when the body is not ``{"psks": [...]}``, an entry is not an object
  with a string ``id``, or it holds more than ``MAX_ENTRIES`` entries;
- an entry lands in ``unapplied_psks`` when its tunnel is not in the account, its id is repeated in the
  request, or its key is refused: not a string, empty, longer than ``MAX_PSK_LENGTH``, with white space
  at either end, or with a control character anywhere;
- every other entry is applied, all under one lock, each with its own stamp; ``validate_only`` answers
  the same way and persists nothing.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from . import timefmt
from .envelope import ApiError
from .state import State

SEGMENT = "psk"  # the last path segment: /accounts/{a}/magic/ipsec_tunnels/psk
MAX_ENTRIES = 1000
MAX_PSK_LENGTH = 255
BAD_BODY_CODE = 1001  # not documented by Cloudflare; chosen here

UNKNOWN_TUNNEL = "IPsec tunnel not found"
REPEATED_ID = "the tunnel id appears more than once in the request"


def psk_refusal(psk: Any) -> str | None:
    """Why the emulator refuses ``psk`` as a tunnel key, or None when it takes it. The reason never quotes it."""
    if not isinstance(psk, str):
        return "psk must be a string"
    if psk == "":
        return "psk must not be empty"
    if len(psk) > MAX_PSK_LENGTH:
        return f"psk must be at most {MAX_PSK_LENGTH} characters"
    if psk != psk.strip():
        return "psk must not begin or end with white space"
    if any(unicodedata.category(c) == "Cc" for c in psk):
        return "psk must not contain control characters"
    return None


def set_psks(state: State, account_id: str, document: dict[str, Any], validate_only: bool) -> dict[str, Any]:
    """Apply (or, with ``validate_only``, only check) every entry of ``document``; return the result object."""
    entries = _entries(document)
    applied: dict[str, Any] = {}
    unapplied: dict[str, str] = {}
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry["id"]] = counts.get(entry["id"], 0) + 1
    known = {t["id"] for t in state.list_tunnels(account_id)}
    # One lock for the batch, like one transaction; State offers no bulk setter, so its fields are used here.
    with state._lock:  # noqa: SLF001
        for entry in entries:
            tunnel_id, psk = entry["id"], entry.get("psk")
            if counts[tunnel_id] > 1:
                unapplied[tunnel_id] = REPEATED_ID
                continue
            if tunnel_id not in known:
                unapplied[tunnel_id] = UNKNOWN_TUNNEL
                continue
            refusal = psk_refusal(psk)
            if refusal is not None:
                unapplied[tunnel_id] = refusal
                continue
            applied[tunnel_id] = _apply(state, tunnel_id, psk, persist=not validate_only)
    return {"successfully_applied_psks": applied, "unapplied_psks": unapplied}


def _entries(document: dict[str, Any]) -> list[dict[str, Any]]:
    entries = document.get("psks")
    if not isinstance(entries, list):
        raise ApiError.single(400, BAD_BODY_CODE, "psks: expected a list of {id, psk} objects")
    if len(entries) > MAX_ENTRIES:
        raise ApiError.single(400, BAD_BODY_CODE, f"psks: at most {MAX_ENTRIES} entries per request")
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise ApiError.single(400, BAD_BODY_CODE, f"psks[{index}]: expected an object with a string id")
    return entries


def _apply(state: State, tunnel_id: str, psk: str, persist: bool) -> dict[str, Any]:
    stamp = timefmt.now()
    tunnel = state._tunnels[tunnel_id]  # noqa: SLF001
    state._generated.append(psk)  # noqa: SLF001 - every key put in an answer, for the leak tests
    if persist:
        state._edge[tunnel_id] = psk  # noqa: SLF001
        tunnel["psk_metadata"] = {"last_generated_on": stamp}
        tunnel["modified_on"] = stamp
    return {"ipsec_id": state.ipsec_id(tunnel), "ipsec_tunnel_id": tunnel_id, "psk": psk,
            "psk_metadata": {"last_generated_on": stamp}}
