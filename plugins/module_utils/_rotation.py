# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``cloudflare.magic.ipsec_psk`` does, apart from where it runs. For internal collection use only.

Both the action plugin (on the controller, the normal path) and the module's ``main()`` call
``run_task``; the result it returns is the task's result, ``psk`` included, and nothing in it
but ``psk`` is secret.

A tunnel object can hold secrets besides the PSK (``bgp.md5_key`` is one in Cloudflare's schema), and
the module returns the object as ``tunnel``: every tunnel leaves this file through
``hide_tunnel_secrets``, so no path (max_age, check mode, name look-up, diff, the bulk module) can
show one. Keys of the user's own go through the bulk endpoint (``set_psks``), shared with
``ipsec_psk_bulk``.
"""

from __future__ import annotations

import difflib
import unicodedata
from datetime import datetime, timezone

from ansible_collections.cloudflare.magic.plugins.module_utils._client import connect
from ansible_collections.cloudflare.magic.plugins.module_utils._errors import (
    KEY_UNCHANGED,
    MIN_SECRET_LENGTH,
    ApiError,
    CloudflareMagicError,
    OptionError,
    TunnelLookupError,
    redact,
    redact_fields,
)
from ansible_collections.cloudflare.magic.plugins.module_utils._options import (
    IPSEC_PSK_SPEC,
    MAX_AGE_FLOOR,
    Connection,
    check_identifier,
    is_older_than,
    parse_instant,
    parse_max_age,
    parse_written_instant,
    task_secrets,
)

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


def list_tunnels(client, account_id):
    """The account's tunnels (each a dict with a string ``id``), their secrets hidden."""
    result = client.call("GET", tunnels_path(account_id))
    tunnels = result.get("ipsec_tunnels") if isinstance(result, dict) else None
    if not isinstance(tunnels, list):
        raise ApiError(200, [], "the tunnel list answer has no ipsec_tunnels list")
    return [hide_tunnel_secrets(t) for t in tunnels if isinstance(t, dict) and isinstance(t.get("id"), str)]


def find_tunnel_by_name(client, account_id, name):
    """The one tunnel called ``name`` (names are unique at Cloudflare); TunnelLookupError otherwise."""
    tunnels = list_tunnels(client, account_id)
    matches = [t for t in tunnels if t.get("name") == name]
    if len(matches) != 1:
        raise TunnelLookupError(
            f"ipsec_tunnel_name: {len(matches)} of the account's {len(tunnels)} IPsec tunnels are named "
            f"{name!r} (exactly one must be); no key was rotated. Check the name, or use ipsec_tunnel_id."
            f"{did_you_mean(name, tunnels) if not matches else ''}")
    return matches[0]


def did_you_mean(name, tunnels):
    """`` Did you mean ...?`` with the account's tunnel names closest to ``name`` (a typo), or ''."""
    names = sorted({t["name"] for t in tunnels if isinstance(t.get("name"), str)})
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6) if isinstance(name, str) else []
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


# --- setting keys of our own (the bulk endpoint) ------------------------------------------------
def check_psk(option, psk):
    """Return ``psk`` if it can be a tunnel key, else raise OptionError; the message never quotes the key."""
    if not isinstance(psk, str):
        kind = "mapping" if isinstance(psk, dict) else "list" if isinstance(psk, (list, tuple)) else "number or other value"
        raise OptionError(option, f"must be a string, not a {kind}; nothing was sent",
                          "Give the key itself as one quoted string.")
    if psk == "":
        raise OptionError(option, "is empty", "Give the key, or leave the option unset to have one generated.")
    if psk != psk.strip():
        raise OptionError(option, "begins or ends with white space", "Remove the white space around the key.")
    if any(unicodedata.category(c) == "Cc" for c in psk):
        raise OptionError(option, "holds a control character (a line break, a tab...)",
                          "Give the key on one line, without control characters.")
    if len(psk) < MIN_SECRET_LENGTH:
        raise OptionError(option, f"is shorter than {MIN_SECRET_LENGTH} characters; nothing was sent",
                          "Use a random key of at least that length, such as the 43 characters Cloudflare "
                          "generates, or leave the option unset to have one generated.")
    return psk


def bulk_path(account_id):
    return f"{tunnels_path(account_id)}/psk"


def set_psks(client, account_id, entries, check_mode):
    """One POST of ``entries`` (``[{"id", "psk"}]``); return ``(applied, unapplied)`` as Cloudflare answered."""
    answer = client.call("POST", bulk_path(account_id), params={"validate_only": "true"} if check_mode else None,
                         body={"psks": entries}, mutates=not check_mode)
    if not isinstance(answer, dict):
        raise ApiError(200, [], "the answer to setting keys holds no result object")
    applied = answer.get("successfully_applied_psks") or {}
    unapplied = answer.get("unapplied_psks") or {}
    if not isinstance(applied, dict) or not isinstance(unapplied, dict):
        raise ApiError(200, [], "the answer to setting keys is not in Cloudflare's documented shape")
    return applied, unapplied


class KeyRefused(CloudflareMagicError):
    """Cloudflare took the request but did not apply the key: the tunnel keeps its key."""


def set_one_psk(client, account_id, tunnel_id, psk, check_mode=False):
    """``ipsec_psk`` with ``psk``: the bulk endpoint with one entry; the applied entry, like a psk_generate answer."""
    applied, unapplied = set_psks(client, account_id, [{"id": tunnel_id, "psk": psk}], check_mode)
    entry = applied.get(tunnel_id)
    if isinstance(entry, dict):
        # The answer echoes the key we sent; hand on ours, which is the one sent and now in force.
        return dict(entry, psk=psk)
    reason = unapplied.get(tunnel_id, "no reason given")
    raise KeyRefused(redact(f"Cloudflare did not apply the key given in psk to tunnel {tunnel_id}: {reason}. "
                            f"{KEY_UNCHANGED}", [psk]))


# --- rotating one tunnel's key ------------------------------------------------------------------
class RotationRequest:
    """Validated options of one ipsec_psk task; building it sends nothing."""

    def __init__(self, params, environ):
        self.connection = Connection(params, environ)
        self.account_id = self.connection.account_id
        self.tunnel_name = params.get("ipsec_tunnel_name")
        self.tunnel_id = None
        if self.tunnel_name is None:
            self.tunnel_id = check_identifier("ipsec_tunnel_id", params.get("ipsec_tunnel_id"))
        elif not isinstance(self.tunnel_name, str) or not self.tunnel_name.strip():
            raise OptionError("ipsec_tunnel_name", "is empty", "Give the tunnel's name as Cloudflare shows it.")
        self.max_age = (parse_max_age(params["max_age"], None if params.get("allow_short_max_age") else MAX_AGE_FLOOR)
                        if params.get("max_age") is not None else None)
        self.router_stamp = check_router_stamp(params.get("router_psk_generated_on"))
        self.psk = check_psk("psk", params["psk"]) if params.get("psk") is not None else None


def check_router_stamp(value, option="router_psk_generated_on"):
    """The router's recorded stamp as an instant, ``()`` when it holds no key from us, None when not given.

    An unquoted timestamp in YAML arrives as a datetime, or as its text with a space
    (``2026-11-01 10:00:00+00:00``); both are accepted. See ``parse_written_instant``."""
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else value
    if text == "":
        return ()
    try:
        return parse_written_instant(text)
    except ValueError as problem:
        raise OptionError(option, f"is not an RFC 3339 timestamp ({problem})",
                          "Give the psk_metadata.last_generated_on the router recorded with its key, in quotes "
                          "so that YAML keeps it as written (e.g. \"2026-11-26T10:48:15.953887008Z\"), or an empty "
                          "string when the router holds no key from this collection.") from None


def same_instant(router_stamp, in_force):
    """True when the router's stamp names ``in_force``. A stamp that YAML read as a datetime holds
    microseconds only (``(seconds, nanoseconds, 6)``): it names the key whose instant, cut to
    microseconds, is the same. Two keys of one tunnel a microsecond apart cannot be made."""
    if in_force is None:
        return False
    if len(router_stamp) == 3:
        return router_stamp[:2] == (in_force[0], in_force[1] - in_force[1] % 1000)
    return router_stamp == in_force


def rotation_reason(router_stamp, max_age, last_generated_on, now):
    """Why a tunnel's key is rotated now (``router_stale``, ``no_max_age``, ``max_age``), or ``fresh``.

    ``router_stamp`` comes from ``check_router_stamp``; ``last_generated_on`` is Cloudflare's stamp of the
    key in force. Both modules decide with this, per tunnel."""
    if router_stamp is not None:
        try:
            in_force = parse_instant(last_generated_on)
        except ValueError:
            in_force = None  # no key generated yet, or an unreadable stamp: the router cannot hold it
        if router_stamp == () or not same_instant(router_stamp, in_force):
            return "router_stale"
    if max_age is None:
        return "no_max_age"
    if is_older_than(last_generated_on, max_age, now):
        return "max_age"
    return "fresh"


def rotate_psk(request, client, check_mode=False, diff=False, now=None):
    """Generate a new PSK for the tunnel (or, in check mode, validate that it could be); return the task result."""
    tunnel = None
    if request.tunnel_name is not None:
        tunnel = find_tunnel_by_name(client, request.account_id, request.tunnel_name)
    elif request.max_age is not None or request.router_stamp is not None or diff:
        tunnel = get_tunnel(client, request.account_id, request.tunnel_id)
    tunnel_id = tunnel["id"] if tunnel is not None else request.tunnel_id
    metadata = (tunnel or {}).get("psk_metadata")
    before = dict(metadata) if isinstance(metadata, dict) else {}  # malformed metadata: the age is unknown

    result = {"changed": False, "ipsec_tunnel_id": tunnel_id}
    if tunnel is not None:
        result["tunnel"] = tunnel
        result["psk_metadata"] = before

    reason = rotation_reason(request.router_stamp, request.max_age, before.get("last_generated_on"),
                             now or datetime.now(timezone.utc))
    result["rotation_reason"] = reason
    if reason == "fresh":
        if diff:
            result["diff"] = _diff(before, before, tunnel_id)
        return result

    if request.psk is not None:
        # A key of the user's own: set through the bulk endpoint with one entry.
        answer = set_one_psk(client, request.account_id, tunnel_id, request.psk, check_mode)
    else:
        answer = client.call(
            "POST", f"{tunnels_path(request.account_id)}/{tunnel_id}/psk_generate",
            params={"validate_only": "true"} if check_mode else None, body={}, mutates=not check_mode)
    if not isinstance(answer, dict):
        answer = {}
    result["changed"] = True
    if answer.get("ipsec_id"):
        result["ipsec_id"] = answer["ipsec_id"]
    if check_mode:
        # Whatever a validate_only answer holds was never put in force: hand nothing on.
        if diff:
            result["diff"] = _diff(before, {"last_generated_on": "(a new key would be generated now)"}, tunnel_id)
        return result

    psk = answer.get("psk")
    if not isinstance(psk, str) or not psk:
        raise ApiError(200, [], "the psk_generate answer holds no psk, so the tunnel's new key is unknown; "
                                "rotate again to get a key that is in force")
    after = answer.get("psk_metadata") if isinstance(answer.get("psk_metadata"), dict) else {}
    result["psk"] = psk
    result["psk_metadata"] = after
    if answer.get("ipsec_tunnel_id"):
        result["ipsec_tunnel_id"] = answer["ipsec_tunnel_id"]
    if tunnel is not None:
        result["tunnel"] = dict(tunnel, psk_metadata=after)
    if diff:
        result["diff"] = _diff(before, after, tunnel_id)
    return result


def _diff(before, after, tunnel_id):
    """The ``diff`` result: ``psk_metadata`` before and after as text, one ``name: value`` line each, so that
    Ansible's callback prints it as ``-``/``+`` lines, exactly as ``diff_text`` does for a censored result."""
    label = f"ipsec_tunnel {tunnel_id} psk_metadata"
    return {"before": _metadata_text(before), "after": _metadata_text(after),
            "before_header": label, "after_header": label}


def _metadata_text(metadata):
    return "".join(f"{key}: {metadata[key]}\n" for key in sorted(metadata))


def diff_text(diff, context=3):
    """A ``diff`` result as the default callback prints it (a unified diff of its texts, ``context`` lines
    around changes, as DIFF_CONTEXT). Ansible drops the diff of a no_log result, so the action plugin shows
    a rotation's metadata diff with this; it holds ``psk_metadata`` only, never the key."""
    lines = difflib.unified_diff(diff["before"].splitlines(True), diff["after"].splitlines(True),
                                 fromfile=f"before: {diff['before_header']}", tofile=f"after: {diff['after_header']}",
                                 fromfiledate="", tofiledate="", n=context)
    return "".join(lines)


def run_task(params, environ, check_mode=False, diff=False, pacing=None):
    """Run one ipsec_psk task from its options; failures come back as a failed result, never raised.

    ``pacing``, when given, makes the client's pacing hook from the validated ``Connection``.
    """
    return failures_as_result(
        IPSEC_PSK_SPEC, params, environ,
        lambda: _rotate_from(RotationRequest(params, environ), check_mode, diff, pacing),
        "cloudflare.magic.ipsec_psk: whether the tunnel's key changed is unknown, so rotate it again")


def _rotate_from(request, check_mode, diff, pacing):
    client = connect(request.connection, pacing(request.connection) if pacing else None)
    return rotate_psk(request, client, check_mode=check_mode, diff=diff)


def failures_as_result(spec, params, environ, run, unknown, keep=(("psk",),)):
    """``run()``'s result, or a failed result in which no field holds any of the task's secrets.

    Every field of the result (``msg``, ``cloudflare_errors`` and any other, at any depth) is redacted
    with the task's secrets and those the error knows (keys generated for the failed request): an
    answer may quote the request. ``keep`` names the paths of the keys handed on, left as they are.
    ``unknown`` says, for an unexpected error, which module failed and what is then unknown.
    """
    secrets = task_secrets(spec, params, environ)
    try:
        return redact_fields(run(), secrets, keep)
    except CloudflareMagicError as error:
        failed = {"failed": True, "changed": False, "msg": str(error)}
        failed.update(error.result_fields())
        return redact_fields(failed, secrets + list(error.secrets), keep)
    except Exception as error:  # noqa: BLE001 - a traceback could carry a secret; report the kind only
        return {"failed": True, "changed": False,
                "msg": f"Unexpected {type(error).__name__} in {unknown}. Please report this (without secrets)."}
