# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``cloudflare.magic.ipsec_tunnel_info`` reports: each tunnel's key age, whether it is overdue
and whether its router lags behind Cloudflare. For internal collection use only.

Read-only: one GET of the account's tunnel list (Cloudflare's list endpoint has no paging, so one
answer holds every tunnel), whatever the size of the account or the selection. The tunnels come from
``_rotation.list_tunnels``, so their secrets are hidden before anything here sees them, and only the
fields a report needs are copied out. Overdue and stale are decided by ``_rotation.rotation_reason``,
the rule the rotating modules follow, so the report says exactly what a rotation run would do.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ansible_collections.cloudflare.magic.plugins.module_utils._client import connect
from ansible_collections.cloudflare.magic.plugins.module_utils._errors import OptionError, TunnelLookupError
from ansible_collections.cloudflare.magic.plugins.module_utils._options import (
    CONNECTION_SPEC,
    IDENTIFIER,
    Connection,
    check_identifier,
    is_future,
    parse_max_age,
    parse_timestamp,
)
from ansible_collections.cloudflare.magic.plugins.module_utils._rotation import (
    check_router_stamp,
    failures_as_result,
    list_tunnels,
    did_you_mean,
    rotation_reason,
)

IPSEC_TUNNEL_INFO_SPEC = dict(
    CONNECTION_SPEC,
    ipsec_tunnel_ids=dict(type="list", elements="str"),
    ipsec_tunnel_names=dict(type="list", elements="str"),
    max_age=dict(type="str"),
    router_psk_generated_on=dict(type="dict"),
)
IPSEC_TUNNEL_INFO_MUTUALLY_EXCLUSIVE = [["ipsec_tunnel_ids", "ipsec_tunnel_names"]]

# The tunnel fields a report shows, as Cloudflare names them; anything else (bgp, health_check...) stays out.
REPORTED_FIELDS = ("id", "name", "description", "cloudflare_endpoint", "customer_endpoint", "interface_address",
                   "custom_remote_identities")
AGE_DECIMALS = 2  # days to two decimals: steps of about 15 minutes, finer than any key policy


class InfoRequest:
    """Validated options of one ipsec_tunnel_info task; building it sends nothing."""

    def __init__(self, params, environ):
        self.connection = Connection(params, environ)
        self.account_id = self.connection.account_id
        self.option = next((o for o in ("ipsec_tunnel_ids", "ipsec_tunnel_names") if params.get(o) is not None), None)
        self.wanted = self._selection(params.get(self.option)) if self.option else None
        self.max_age = parse_max_age(params["max_age"]) if params.get("max_age") is not None else None
        self.router_stamps = self._router_stamps(params.get("router_psk_generated_on"))

    def _selection(self, values):
        if not values:
            raise OptionError(self.option, "is empty", "List at least one tunnel, or leave it unset for all tunnels.")
        wanted = []
        for index, value in enumerate(values):
            where = f"{self.option}[{index}]"
            if self.option == "ipsec_tunnel_ids":
                value = check_identifier(where, value)
            elif not isinstance(value, str) or not value.strip():
                raise OptionError(where, "is empty", "Give the tunnel's name as Cloudflare shows it.")
            if value in wanted:
                raise OptionError(self.option, f"lists {value} more than once", "List each tunnel once.")
            wanted.append(value)
        return wanted

    def _router_stamps(self, mapping):
        """Tunnel id (lowercase) or name -> the router's stamp, parsed as ipsec_psk_bulk parses it."""
        if mapping is None:
            return None
        stamps = {}
        for key, value in mapping.items():
            key = f"{key}"
            is_id = IDENTIFIER.match(key.lower()) is not None
            if is_id and self.option == "ipsec_tunnel_ids" and key.lower() not in self.wanted:
                raise OptionError("router_psk_generated_on", f"names tunnel {key}, which is not in ipsec_tunnel_ids",
                                  "Key it by a tunnel the task reports on.")
            stamps[key.lower() if is_id else key] = check_router_stamp(value, f"router_psk_generated_on[{key}]")
        return stamps


def report(request, client, now=None):
    """The task result: every selected tunnel with its key's age and state, and a summary."""
    now = now or datetime.now(timezone.utc)
    tunnels = select(request, list_tunnels(client, request.account_id))
    check_stamps_name_tunnels(request, tunnels)
    reported = [tunnel_report(request, tunnel, now) for tunnel in tunnels]
    return {"changed": False, "ipsec_tunnels": reported, "summary": summarize(request, reported),
            "reported_on": now.strftime("%Y-%m-%dT%H:%M:%SZ")}


def select(request, tunnels):
    """The tunnels asked for, in the order asked (all of them, in Cloudflare's order, when none were named).

    An id or a name that is not the account's fails the task, naming it: a report that quietly leaves a
    tunnel out would read as "all keys fine"."""
    if request.wanted is None:
        return tunnels
    if request.option == "ipsec_tunnel_ids":
        by_id = {t["id"].lower(): t for t in tunnels}
        missing = [tunnel_id for tunnel_id in request.wanted if tunnel_id not in by_id]
        if missing:
            raise TunnelLookupError(
                f"ipsec_tunnel_ids: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not among the "
                f"account's {len(tunnels)} IPsec tunnels; nothing was reported. Check the ids, or list the "
                "account's tunnels by leaving ipsec_tunnel_ids unset.")
        return [by_id[tunnel_id] for tunnel_id in request.wanted]
    selected, problems = [], []
    found = {t.get("name") for t in tunnels}
    for name in request.wanted:
        matches = [t for t in tunnels if t.get("name") == name]
        if len(matches) == 1:
            selected.append(matches[0])
        else:
            problems.append(f"{name!r} ({len(matches)} tunnels)")
    if problems:
        raise TunnelLookupError(
            f"ipsec_tunnel_names: exactly one of the account's {len(tunnels)} IPsec tunnels must have each name, "
            f"but not {', '.join(problems)}; nothing was reported. Check the names, or use ipsec_tunnel_ids."
            + "".join(did_you_mean(name, tunnels) for name in request.wanted if name not in found))
    return selected


def check_stamps_name_tunnels(request, tunnels):
    """Every key of router_psk_generated_on must be a reported tunnel's id or name: a typo must not pass as
    "router up to date"."""
    if not request.router_stamps:
        return
    known = {t["id"].lower() for t in tunnels} | {t["name"] for t in tunnels if isinstance(t.get("name"), str)}
    stray = sorted(key for key in request.router_stamps if key not in known)
    if stray:
        raise OptionError("router_psk_generated_on", f"names {', '.join(stray)}, not among the reported tunnels",
                          "Key it by the id or name of a tunnel the task reports on.")


def last_generated_on(tunnel):
    """Cloudflare's stamp of the key in force, or None when no key was ever generated. The published
    schema makes both ``psk_metadata`` and its ``last_generated_on`` optional, so a never-keyed tunnel
    may come without ``psk_metadata``, with ``null``, with ``{}`` or with a null stamp."""
    metadata = tunnel.get("psk_metadata")
    stamp = metadata.get("last_generated_on") if isinstance(metadata, dict) else None
    return stamp if stamp not in (None, "") else None


def psk_metadata_problem(tunnel, now):
    """Why the key's age is unknown although Cloudflare sent something, or None: ``psk_metadata`` that is not an
    object, a ``last_generated_on`` that is not an RFC 3339 time, or one further ahead than FUTURE_SKEW."""
    metadata = tunnel.get("psk_metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return f"psk_metadata is a {type(metadata).__name__}, not an object"
    stamp = last_generated_on(tunnel)
    if stamp is None:
        return None
    generated = parse_timestamp(stamp)
    if generated is None:
        return "last_generated_on is not an RFC 3339 time"
    if is_future(generated, now):
        return f"last_generated_on is {(generated - now).total_seconds() / 86400:.2f} days in the future"
    return None


def tunnel_report(request, tunnel, now):
    """One tunnel's row: its identity and endpoints, its key's age, and what a rotation run would do."""
    row = {name: tunnel[name] for name in REPORTED_FIELDS if name in tunnel}
    stamp = last_generated_on(tunnel)
    problem = psk_metadata_problem(tunnel, now)
    row["psk_metadata"] = {"last_generated_on": stamp}
    row["never_generated"] = stamp is None and problem is None
    row["psk_metadata_problem"] = problem
    generated = parse_timestamp(stamp) if stamp is not None and problem is None else None
    row["psk_age_days"] = round((now - generated).total_seconds() / 86400, AGE_DECIMALS) if generated else None
    if request.max_age is not None:
        # Overdue exactly when ipsec_psk with this max_age would rotate: older, or of unknown age.
        row["overdue"] = rotation_reason(None, request.max_age, stamp, now) == "max_age"
    if request.router_stamps is not None:
        router_stamp = request.router_stamps.get(tunnel["id"].lower(), request.router_stamps.get(tunnel.get("name")))
        row["router_stale"] = (None if router_stamp is None
                               else rotation_reason(router_stamp, None, stamp, now) == "router_stale")
    return row


def summarize(request, rows):
    """Counts a dashboard shows, and the oldest key (never-generated keys have no age and are counted apart)."""
    aged = [row for row in rows if row["psk_age_days"] is not None]
    oldest = max(aged, key=lambda row: row["psk_age_days"], default=None)
    return {
        "total": len(rows),
        "never_generated": sum(row["never_generated"] for row in rows),
        "unknown_age": sum(row["psk_metadata_problem"] is not None for row in rows),
        "overdue": sum(row["overdue"] for row in rows) if request.max_age is not None else None,
        "router_stale": (sum(bool(row["router_stale"]) for row in rows)
                         if request.router_stamps is not None else None),
        "oldest": None if oldest is None else {
            "name": oldest.get("name"), "id": oldest["id"],
            "last_generated_on": oldest["psk_metadata"]["last_generated_on"], "psk_age_days": oldest["psk_age_days"]},
    }


def run_info_task(params, environ, pacing=None):
    """Run one ipsec_tunnel_info task; failures come back as a failed result, never raised.

    ``pacing``, when given, makes the client's pacing hook from the validated ``Connection``.
    """
    return failures_as_result(
        IPSEC_TUNNEL_INFO_SPEC, params, environ, lambda: _report_from(InfoRequest(params, environ), pacing),
        "cloudflare.magic.ipsec_tunnel_info (it changes nothing, so running it again is safe)")


def _report_from(request, pacing):
    client = connect(request.connection, pacing(request.connection) if pacing else None)
    return report(request, client)
