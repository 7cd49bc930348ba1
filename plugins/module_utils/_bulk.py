# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Setting many tunnels' keys in one request (``ipsec_psk_bulk``, and ``ipsec_psk`` with ``psk``).
For internal collection use only.

Cloudflare's ``POST /accounts/{a}/magic/ipsec_tunnels/psk`` takes keys we choose. That changes what a
lost answer means: re-sending the same body sets the same keys again, so the retries of the shared
client converge on keys we already hold, where a re-sent ``psk_generate`` makes yet another key.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timezone

from ansible_collections.cloudflare.magic.plugins.module_utils._client import connect
from ansible_collections.cloudflare.magic.plugins.module_utils._errors import (
    CloudflareMagicError,
    OptionError,
    TunnelLookupError,
    redact,
)
from ansible_collections.cloudflare.magic.plugins.module_utils._options import (
    CONNECTION_SPEC,
    IDENTIFIER,
    MAX_AGE_FLOOR,
    Connection,
    check_identifier,
    parse_max_age,
)
from ansible_collections.cloudflare.magic.plugins.module_utils._rotation import (
    check_psk,
    check_router_stamp,
    did_you_mean,
    failures_as_result,
    list_tunnels,
    rotation_reason,
    set_psks,
)

# 100 keys make a body of about 10 KB: a lost answer re-sends little, and 1,000 tunnels still take only
# 10 requests, under 1% of Cloudflare's 1,200 per 5 minutes. Cloudflare documents no largest batch.
DEFAULT_BATCH_SIZE = 100
MAX_BATCH_SIZE = 1000
GENERATED_PSK_BYTES = 32

IPSEC_PSK_BULK_SPEC = dict(
    CONNECTION_SPEC,
    ipsec_tunnel_ids=dict(type="list", elements="str"),
    ipsec_tunnel_names=dict(type="list", elements="str"),
    psks=dict(type="dict", no_log=True),
    max_age=dict(type="str"),
    allow_short_max_age=dict(type="bool", default=False),
    router_psk_generated_on=dict(type="dict"),
    batch_size=dict(type="int", default=DEFAULT_BATCH_SIZE),
    fail_on_unapplied=dict(type="bool", default=False),
)
IPSEC_PSK_BULK_MUTUALLY_EXCLUSIVE = [["ipsec_tunnel_ids", "ipsec_tunnel_names"]]
IPSEC_PSK_BULK_REQUIRED_ONE_OF = [["ipsec_tunnel_ids", "ipsec_tunnel_names"]]


def new_psk():
    """32 random bytes as unpadded URL-safe base64: 43 characters, like the keys Cloudflare generates."""
    return base64.urlsafe_b64encode(secrets.token_bytes(GENERATED_PSK_BYTES)).rstrip(b"=").decode("ascii")


class BulkRequest:
    """Validated options of one ipsec_psk_bulk task; building it sends nothing."""

    def __init__(self, params, environ):
        self.connection = Connection(params, environ)
        self.account_id = self.connection.account_id
        self.by_name = params.get("ipsec_tunnel_names") is not None
        self.wanted = self._tunnels(params)
        self.max_age = (parse_max_age(params["max_age"], None if params.get("allow_short_max_age") else MAX_AGE_FLOOR)
                        if params.get("max_age") is not None else None)
        self.psks = self._keyed("psks", params.get("psks"), check_psk)
        self.router_stamps = self._keyed("router_psk_generated_on", params.get("router_psk_generated_on"),
                                         lambda option, value: check_router_stamp(value, option))
        self.batch_size = params.get("batch_size")
        if not isinstance(self.batch_size, int) or not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise OptionError("batch_size", f"must be between 1 and {MAX_BATCH_SIZE}",
                              f"Leave it unset for {DEFAULT_BATCH_SIZE} keys per request.")
        self.fail_on_unapplied = bool(params.get("fail_on_unapplied"))

    def _tunnels(self, params):
        option = "ipsec_tunnel_names" if self.by_name else "ipsec_tunnel_ids"
        values = params.get(option)
        if not values:
            raise OptionError(option, "is empty", "List at least one tunnel.")
        wanted = []
        for index, value in enumerate(values):
            if self.by_name:
                if not isinstance(value, str) or not value.strip():
                    raise OptionError(f"{option}[{index}]", "is empty", "Give the tunnel's name as Cloudflare shows it.")
            else:
                value = check_identifier(f"{option}[{index}]", value)
            if value in wanted:
                raise OptionError(option, f"lists {value} more than once", "List each tunnel once.")
            wanted.append(value)
        return wanted

    def _keyed(self, option, mapping, check):
        """``mapping`` (tunnel id or name -> value) with every value checked; keys are resolved after the list."""
        if mapping is None:
            return {}
        checked = {}
        for key, value in mapping.items():
            key = f"{key}"
            is_id = IDENTIFIER.match(key.lower()) is not None
            if is_id and not self.by_name and key.lower() not in self.wanted:
                raise OptionError(option, f"names tunnel {key}, which is not in ipsec_tunnel_ids",
                                  "Key it by a tunnel the task rotates.")
            canonical = key.lower() if is_id else key
            if canonical in checked:
                raise OptionError(option, f"names tunnel {key} twice", "Give each tunnel one entry; no key was set.")
            checked[canonical] = check(f"{option}[{key}]", value)
        return checked


def rotate_fleet(request, client, check_mode=False, now=None):
    """Set the keys of every tunnel that needs one, in batches; return the task result."""
    tunnels = list_tunnels(client, request.account_id)
    targets = _resolve(request, tunnels)
    _check_keys_name_targets(request, targets)
    now = now or datetime.now(timezone.utc)
    entries, skipped = [], []
    for tunnel_id, tunnel in targets:
        if not _needs_rotation(request, tunnel_id, tunnel, now):
            skipped.append(tunnel_id)
            continue
        name = (tunnel or {}).get("name")
        psk = request.psks.get(tunnel_id, request.psks.get(name)) if request.psks else None
        entries.append({"id": tunnel_id, "psk": psk if psk is not None else new_psk()})
    names = {tunnel_id: (tunnel or {}).get("name") for tunnel_id, tunnel in targets}
    listed = {tunnel_id: tunnel for tunnel_id, tunnel in targets if tunnel}
    sent_keys = [e["psk"] for e in entries]
    result = {"changed": False, "rotated": {}, "unapplied": {}, "skipped_tunnels": skipped}
    for start in range(0, len(entries), request.batch_size):
        batch = entries[start:start + request.batch_size]
        try:
            applied, unapplied = set_psks(client, request.account_id, batch, check_mode)
        except CloudflareMagicError as error:
            raise BatchFailed(error, start // request.batch_size + 1, result, batch, sent_keys) from None
        _record(result, batch, applied, unapplied, listed, check_mode, sent_keys)
    result["changed"] = bool(result["rotated"])
    if result["unapplied"]:
        refused = ", ".join(_label(tid, names.get(tid)) for tid in sorted(result["unapplied"]))
        message = (f"Cloudflare did not apply the keys of {len(result['unapplied'])} tunnel(s): {refused}; "
                   "their keys were not changed (see unapplied). Every other key listed in rotated is in force.")
        if request.fail_on_unapplied:
            result.update(failed=True, msg=message)
        else:
            result["warnings"] = [message]
    return result


class BatchFailed(CloudflareMagicError):
    """A batch failed after earlier ones were applied: their keys are in force and kept in the result."""

    def __init__(self, error, number, partial, batch, sent_keys):
        self.partial = partial
        self.cause = error
        self.secrets = tuple(sent_keys)  # the answer may quote them (in cloudflare_errors too)
        what = ", ".join(e["id"] for e in batch[:5]) + (" ..." if len(batch) > 5 else "")
        super().__init__(redact(
            f"Batch {number} ({len(batch)} tunnel(s): {what}) failed: {error} Each of its tunnels holds either "
            "its old key or the key sent, which was not handed on: rotate them again. Keys listed in rotated "
            "were applied by earlier batches and are in force.", sent_keys))

    def result_fields(self):
        fields = dict(self.cause.result_fields())
        fields.update(rotated=self.partial["rotated"], unapplied=self.partial["unapplied"],
                      skipped_tunnels=self.partial["skipped_tunnels"])
        return fields


def _record(result, batch, applied, unapplied, listed, check_mode, sent_keys):
    for entry in batch:
        tunnel_id = entry["id"]
        answered = applied.get(tunnel_id)
        if isinstance(answered, dict):
            tunnel = listed.get(tunnel_id)
            rotated = {"ipsec_tunnel_id": tunnel_id, "name": (tunnel or {}).get("name")}
            if answered.get("ipsec_id"):
                rotated["ipsec_id"] = answered["ipsec_id"]
            if tunnel is not None:
                rotated["tunnel"] = tunnel  # endpoints and inside address: what a router needs besides the key
            if not check_mode:
                # The key handed on is the one we sent: Cloudflare applied it (its echo may be absent).
                rotated["psk"] = entry["psk"]
                metadata = answered.get("psk_metadata")
                rotated["psk_metadata"] = metadata if isinstance(metadata, dict) else {}
                if tunnel is not None:
                    rotated["tunnel"] = dict(tunnel, psk_metadata=rotated["psk_metadata"])
            result["rotated"][tunnel_id] = rotated
        else:
            reason = unapplied.get(tunnel_id, "not in Cloudflare's answer, so not applied")
            result["unapplied"][tunnel_id] = redact(f"{reason}", sent_keys)


def _label(tunnel_id, name):
    return f"{name} ({tunnel_id})" if name else tunnel_id


def _resolve(request, tunnels):
    """``[(tunnel_id, tunnel or None)]`` in the order asked; names must each match exactly one tunnel."""
    if not request.by_name:
        by_id = {t["id"].lower(): t for t in tunnels}
        unknown = [tunnel_id for tunnel_id in request.wanted if tunnel_id not in by_id]
        if unknown:
            raise TunnelLookupError(
                f"ipsec_tunnel_ids: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not among the "
                f"account's {len(tunnels)} IPsec tunnels; no key was set. Check the ids, or use ipsec_tunnel_names.")
        return [(tunnel_id, by_id[tunnel_id]) for tunnel_id in request.wanted]
    targets, problems = [], []
    for name in request.wanted:
        matches = [t for t in tunnels if t.get("name") == name]
        if len(matches) != 1:
            problems.append(f"{name!r} ({len(matches)} tunnels)")
        else:
            targets.append((matches[0]["id"], matches[0]))
    if problems:
        raise TunnelLookupError(
            f"ipsec_tunnel_names: exactly one tunnel must have each name, but not {', '.join(problems)}; "
            "no key was set. Check the names, or use ipsec_tunnel_ids."
            + "".join(did_you_mean(name, tunnels) for name in request.wanted
                      if not any(t.get("name") == name for t in tunnels)))
    return targets


def _check_keys_name_targets(request, targets):
    """Every key of psks and router_psk_generated_on must name a tunnel of the task, and each tunnel once:
    by name and by id at once, one of the two would win unseen (checked before any POST)."""
    known = {}
    for tunnel_id, tunnel in targets:
        known[tunnel_id] = tunnel_id
        if tunnel and tunnel.get("name"):
            known[tunnel["name"]] = tunnel_id
    for option, mapping in (("psks", request.psks), ("router_psk_generated_on", request.router_stamps)):
        stray = sorted(key for key in mapping if key not in known)
        if stray:
            raise OptionError(option, f"names {', '.join(stray)}, not among the task's tunnels",
                              "Key it by the id or name of a tunnel the task rotates; no key was set.")
        seen = {}
        for key in mapping:
            if known[key] in seen:
                raise OptionError(option, f"names tunnel {known[key]} twice, as {seen[known[key]]} and as {key}",
                                  "Key each tunnel once, by its id or by its name; no key was set.")
            seen[known[key]] = key


def _needs_rotation(request, tunnel_id, tunnel, now):
    edge_stamp = ((tunnel or {}).get("psk_metadata") or {}).get("last_generated_on")
    name = (tunnel or {}).get("name")
    router_stamp = request.router_stamps.get(tunnel_id, request.router_stamps.get(name))
    return rotation_reason(router_stamp, request.max_age, edge_stamp, now) != "fresh"


def run_bulk_task(params, environ, check_mode=False, pacing=None):
    """Run one ipsec_psk_bulk task; failures come back as a failed result, never raised.

    ``pacing``, when given, makes the client's pacing hook from the validated ``Connection``.
    """
    result = failures_as_result(
        IPSEC_PSK_BULK_SPEC, params, environ, lambda: _rotate_from(BulkRequest(params, environ), check_mode, pacing),
        "cloudflare.magic.ipsec_psk_bulk: which tunnels' keys changed is unknown, so rotate them again",
        keep=(("rotated", "*", "psk"),))
    if result.get("rotated"):
        result["changed"] = True  # a failure after earlier batches were applied
    return result


def _rotate_from(request, check_mode, pacing):
    client = connect(request.connection, pacing(request.connection) if pacing else None)
    return rotate_fleet(request, client, check_mode=check_mode)
