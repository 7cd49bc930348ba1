# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``cloudflare.magic.ipsec_psk`` does, apart from where it runs. For internal collection use only.

Both the action plugin (on the controller, the normal path) and the module's ``main()`` call
``rotate_psk``; the result it returns is the task's result, ``psk`` included, and nothing in it
but ``psk`` is secret.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ansible_collections.cloudflare.magic.plugins.module_utils._api import CloudflareClient
from ansible_collections.cloudflare.magic.plugins.module_utils._auth import resolve_credentials
from ansible_collections.cloudflare.magic.plugins.module_utils._bulk import check_psk, set_one_psk
from ansible_collections.cloudflare.magic.plugins.module_utils._durations import (
    is_older_than,
    parse_instant,
    parse_max_age,
)
from ansible_collections.cloudflare.magic.plugins.module_utils._errors import (
    ApiError,
    CloudflareMagicError,
    OptionError,
    redact,
)
from ansible_collections.cloudflare.magic.plugins.module_utils._options import check_connection, check_identifier
from ansible_collections.cloudflare.magic.plugins.module_utils._retry import RetryPolicy
from ansible_collections.cloudflare.magic.plugins.module_utils._tunnels import (
    find_tunnel_by_name,
    get_tunnel,
    tunnels_path,
)


class RotationRequest:
    """Validated options of one ipsec_psk task; building it sends nothing."""

    def __init__(self, params, environ):
        checked = check_connection(params)
        self.credentials = resolve_credentials(params, environ)
        self.account_id = checked["account_id"]
        self.base_url = checked["api_base_url"]
        self.tunnel_name = params.get("ipsec_tunnel_name")
        self.tunnel_id = None
        if self.tunnel_name is None:
            self.tunnel_id = check_identifier("ipsec_tunnel_id", params.get("ipsec_tunnel_id"))
        elif not isinstance(self.tunnel_name, str) or not self.tunnel_name.strip():
            raise OptionError("ipsec_tunnel_name", "is empty", "Give the tunnel's name as Cloudflare shows it.")
        self.max_age = parse_max_age(params["max_age"]) if params.get("max_age") is not None else None
        self.router_stamp = check_router_stamp(params.get("router_psk_generated_on"))
        self.psk = check_psk("psk", params["psk"]) if params.get("psk") is not None else None
        self.params = checked
        self.environ = environ  # the task's effective environment: proxies and CA bundle come from it

    def client(self, pacing=None):
        p = self.params
        return CloudflareClient(
            self.base_url, self.credentials, timeout=p["timeout"], validate_certs=p["validate_certs"],
            ca_path=p.get("ca_path"), pacing=pacing, environ=self.environ,
            retry=RetryPolicy(retries=p["retries"], max_time=p["retry_max_time"],
                              rate_limit_max_wait=p["rate_limit_max_wait"],
                              backoff=p.get("retry_backoff", 1.0), backoff_max=p.get("retry_backoff_max", 30.0)))


def check_router_stamp(value):
    """The router's recorded stamp as an instant, ``()`` when it holds no key from us, None when not given."""
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else value
    if text == "":
        return ()
    try:
        return parse_instant(text)
    except ValueError:
        raise OptionError("router_psk_generated_on", "is not an RFC 3339 timestamp",
                          "Give the psk_metadata.last_generated_on the router recorded with its key "
                          "(e.g. 2026-11-26T10:48:15.953887008Z), or an empty string when the router "
                          "holds no key from this collection.") from None


def rotation_reason(request, last_generated_on, now):
    """Why this run rotates (``router_stale``, ``no_max_age``, ``max_age``) or ``fresh`` when it does not."""
    if request.router_stamp is not None:
        try:
            in_force = parse_instant(last_generated_on)
        except ValueError:
            in_force = None  # no key generated yet, or an unreadable stamp: the router cannot hold it
        if request.router_stamp == () or request.router_stamp != in_force:
            return "router_stale"
    if request.max_age is None:
        return "no_max_age"
    if is_older_than(last_generated_on, request.max_age, now):
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
    before = dict((tunnel or {}).get("psk_metadata") or {})

    result = {"changed": False, "ipsec_tunnel_id": tunnel_id}
    if tunnel is not None:
        result["tunnel"] = tunnel
        result["psk_metadata"] = before

    reason = rotation_reason(request, before.get("last_generated_on"), now or datetime.now(timezone.utc))
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
    label = f"ipsec_tunnel {tunnel_id} psk_metadata"
    return {"before": {"psk_metadata": before}, "after": {"psk_metadata": after},
            "before_header": label, "after_header": label}


def diff_text(diff):
    """A ``diff`` result as unified-diff lines. Ansible drops the diff of a no_log result, so the action
    plugin shows a rotation's metadata diff with this; it holds ``psk_metadata`` only, never the key."""
    before = diff["before"].get("psk_metadata") or {}
    after = diff["after"].get("psk_metadata") or {}
    lines = [f"--- before: {diff['before_header']}", f"+++ after: {diff['after_header']}"]
    for key in sorted(set(before) | set(after)):
        if before.get(key) == after.get(key):
            lines.append(f" {key}: {before.get(key)}")
            continue
        if key in before:
            lines.append(f"-{key}: {before[key]}")
        if key in after:
            lines.append(f"+{key}: {after[key]}")
    return "\n".join(lines) + "\n"


def run_task(params, environ, check_mode=False, diff=False, pacing=None):
    """Run one ipsec_psk task from its validated options; failures come back as a failed result, never raised."""
    secrets = [params.get("api_token"), params.get("api_key"), params.get("psk")]
    secrets += [environ.get("CLOUDFLARE_API_TOKEN"), environ.get("CLOUDFLARE_API_KEY")]
    try:
        request = RotationRequest(params, environ)
        client = request.client(pacing=pacing)
        return rotate_psk(request, client, check_mode=check_mode, diff=diff)
    except CloudflareMagicError as error:
        failed = {"failed": True, "changed": False, "msg": redact(str(error), secrets)}
        failed.update(error.result_fields())
        return failed
    except Exception as error:  # noqa: BLE001 - a traceback could carry a secret; report the kind only
        return {"failed": True, "changed": False,
                "msg": f"Unexpected {type(error).__name__} in cloudflare.magic.ipsec_psk: whether the tunnel's "
                       "key changed is unknown, so rotate it again. Please report this (without secrets)."}
