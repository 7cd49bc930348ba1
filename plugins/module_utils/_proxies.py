# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which proxy a request goes through, decided from the task's environment. For internal collection use only.

requests on its own reads only the controller process's variables, and sends a plain-http request,
Authorization header included, to an HTTP proxy in clear. Here the proxy comes from the task's effective
environment (controller plus ``environment:``), and plain http (allowed for loopback only) never goes
through one: an https URL reaches a proxy only as a CONNECT tunnel, so the proxy sees no header of ours.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit
from urllib.request import proxy_bypass_environment


def _variable(environ, name):
    # The lower-case name wins over the upper-case one, as in urllib and curl.
    for key in (name.lower(), name.upper()):
        value = environ.get(key)
        if value and value.strip():
            return value.strip()
    return None


def proxy_for(url, environ):
    """The proxy URL to reach ``url`` through, or None to connect directly."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return None
    proxy = _variable(environ, "https_proxy") or _variable(environ, "all_proxy")
    if proxy is None or bypasses_proxy(parts.hostname, parts.port, _variable(environ, "no_proxy")):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def bypasses_proxy(host, port, no_proxy):
    """True when ``no_proxy`` (names, domain suffixes, host:port, addresses, CIDR networks, ``*``) covers the host."""
    if not no_proxy or not host:
        return False
    entries = [e.strip() for e in no_proxy.replace(" ", ",").split(",") if e.strip()]
    if "*" in entries:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        for entry in entries:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    target = f"{host}:{port}" if port else host
    return bool(proxy_bypass_environment(target, {"no": ",".join(entries)}))


def proxy_shown(proxy):
    """The proxy as a message may name it: scheme, host and port, never a user or password."""
    parts = urlsplit(proxy)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}"


def proxy_secrets(proxy):
    """A proxy URL's password, to be kept out of messages."""
    if not proxy:
        return []
    password = urlsplit(proxy).password
    return [password] if password else []
