# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Option specs and the checks that reject bad input before any request. For internal collection use only.

The connection and authentication options are declared once here and once in the doc fragment
``cloudflare.magic.connection``; a unit test keeps the two in step.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from urllib.parse import urlsplit

from ansible.module_utils.basic import env_fallback

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import OptionError

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"
IDENTIFIER = re.compile(r"\A[0-9a-f]{32}\Z")

# Credentials are resolved by _auth.resolve_credentials rather than by env_fallback, so that explicit
# options win over the environment as a whole; their env variables are documented in the fragment.
CONNECTION_SPEC = dict(
    account_id=dict(type="str", fallback=(env_fallback, ["CLOUDFLARE_ACCOUNT_ID"])),
    api_token=dict(type="str", no_log=True),
    api_email=dict(type="str"),
    api_key=dict(type="str", no_log=True),
    api_base_url=dict(type="str", default=DEFAULT_BASE_URL, fallback=(env_fallback, ["CLOUDFLARE_BASE_URL"])),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
    timeout=dict(type="float", default=30.0),
    retries=dict(type="int", default=4),
    retry_max_time=dict(type="float", default=180.0),
    rate_limit_max_wait=dict(type="float", default=310.0),
    retry_backoff=dict(type="float", default=1.0),
    retry_backoff_max=dict(type="float", default=30.0),
)

IPSEC_PSK_SPEC = dict(
    CONNECTION_SPEC,
    ipsec_tunnel_id=dict(type="str"),
    ipsec_tunnel_name=dict(type="str"),
    max_age=dict(type="str"),
    router_psk_generated_on=dict(type="str"),
    psk=dict(type="str", no_log=True),
)
IPSEC_PSK_MUTUALLY_EXCLUSIVE = [["ipsec_tunnel_id", "ipsec_tunnel_name"]]
IPSEC_PSK_REQUIRED_ONE_OF = [["ipsec_tunnel_id", "ipsec_tunnel_name"]]


def check_identifier(option, value, env=None):
    """Return ``value`` as Cloudflare writes identifiers (32 lowercase hex), or raise OptionError."""
    where = f" (or {env})" if env else ""
    if value is None or value == "":
        raise OptionError(option, "is required", f"Set {option}{where} to the 32-character hex identifier.")
    if not isinstance(value, str) or not IDENTIFIER.match(value.lower()):
        shown = _describe(value)
        raise OptionError(option, f"must be 32 hexadecimal characters, got {shown}",
                          "Copy the identifier from the Cloudflare dashboard or the API.")
    return value.lower()


def _describe(value):
    """Say what is wrong with an identifier without echoing long or odd input back."""
    if not isinstance(value, str):
        return f"a {type(value).__name__}"
    if "/" in value or ".." in value or "?" in value or "#" in value or "%" in value:
        return f"{len(value)} characters including URL path characters"
    bad = sorted({c for c in value.lower() if c not in "0123456789abcdef"})
    if bad:
        return f"{len(value)} characters including non-hex characters"
    return f"{len(value)} characters"


def check_base_url(value):
    """Return the base URL without a trailing slash; refuse clear-text HTTP except to loopback."""
    option = "api_base_url"
    if not isinstance(value, str) or not value.strip():
        raise OptionError(option, "is empty", f"Leave it unset for {DEFAULT_BASE_URL}.")
    try:
        parts = urlsplit(value.strip())
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise OptionError(option, "is not a valid URL", f"Use a URL such as {DEFAULT_BASE_URL}.") from None
    if parts.scheme not in ("https", "http") or not host:
        raise OptionError(option, "must be an https:// URL with a host", f"Use a URL such as {DEFAULT_BASE_URL}.")
    if parts.username is not None or parts.password is not None:
        raise OptionError(option, "must not carry credentials", "Remove the user:password@ part; use api_token.")
    if parts.query or parts.fragment:
        raise OptionError(option, "must not have a query or a fragment", "Remove what follows '?' or '#'.")
    if parts.scheme == "http" and not is_loopback(host):
        raise OptionError(option, f"uses plain http:// to {host}, which would send credentials in clear",
                          "Use https://; plain http:// is accepted only for a loopback address.")
    return value.strip().rstrip("/")


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# A day: longer waits are a mistake, and larger numbers overflow socket and sleep timeouts.
MAX_SECONDS = 86400.0


def check_positive(option, value, fix):
    if value is None or math.isnan(value) or value <= 0 or math.isinf(value):
        raise OptionError(option, "must be a positive number of seconds", fix)
    if value > MAX_SECONDS:
        raise OptionError(option, f"must be at most {MAX_SECONDS:g} seconds (one day)", fix)
    return value


def with_env_fallbacks(args, environ, spec=None):
    """``args`` with each option left unset taken from its documented variable in ``environ``.

    The action plugin passes the task's effective environment (the controller's, with the play's and
    task's ``environment:`` on top); Ansible's own fallback would read the controller's only.
    """
    filled = dict(args)
    for option, option_spec in (spec or IPSEC_PSK_SPEC).items():
        fallback = option_spec.get("fallback")
        if not fallback or fallback[0] is not env_fallback or filled.get(option) is not None:
            continue
        for name in fallback[1]:
            if name in environ:
                filled[option] = environ[name]
                break
    return filled


def check_connection(params):
    """Check the connection options; return them normalised. Credentials are checked by _auth."""
    checked = dict(params)
    checked["account_id"] = check_identifier("account_id", params.get("account_id"), "CLOUDFLARE_ACCOUNT_ID")
    checked["api_base_url"] = check_base_url(params.get("api_base_url"))
    check_positive("timeout", params.get("timeout"), "Give the seconds to wait for an answer, e.g. 30.")
    check_positive("retry_max_time", params.get("retry_max_time"), "Give the seconds all attempts may take, e.g. 180.")
    max_wait = params.get("rate_limit_max_wait")
    if max_wait is None or math.isnan(max_wait) or max_wait < 0 or math.isinf(max_wait) or max_wait > MAX_SECONDS:
        raise OptionError("rate_limit_max_wait", f"must be zero or more seconds, at most {MAX_SECONDS:g}",
                          "Give how long a rate-limited task may wait, e.g. 310; 0 fails at once.")
    check_positive("retry_backoff", params.get("retry_backoff", 1.0),
                   "Give the seconds to wait before the first retry, e.g. 1.")
    check_positive("retry_backoff_max", params.get("retry_backoff_max", 30.0),
                   "Give the longest wait between two attempts in seconds, e.g. 30.")
    if params.get("retries") is None or not 0 <= params["retries"] <= 20:
        raise OptionError("retries", "must be between 0 and 20", "Give how many times to retry, e.g. 4.")
    ca_path = params.get("ca_path")
    if ca_path is not None and not os.path.isfile(ca_path):
        raise OptionError("ca_path", f"names no readable file ({ca_path})",
                          "Give the path of a PEM file holding the CA certificate(s) to trust.")
    if ca_path is not None and not params.get("validate_certs", True):
        raise OptionError("ca_path", "is set while validate_certs is false",
                          "Keep validate_certs true to have the CA bundle used.")
    return checked
