# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the tunnel_psk role hands a router, derived from Cloudflare's answer and checked before any router
configuration is written. For internal collection use only; the filters of ``plugins/filter/handoff.py``
are its public face.

- The router's inside address: Cloudflare's ``interface_address`` is its own side of a /31 or /30 (IPv4,
  RFC 1918 or 169.254.240.0/20, per Cloudflare's "Configure tunnel endpoints"); the router takes the other
  usable address. The published tunnel object has a separate ``interface_address6``; ``interface_address``
  itself is never IPv6, so an IPv6 value is refused here.
- The router's IKE identity: ``tunnel_psk_ike_id``, else the answer's ``ipsec_id``, else the tunnel's
  ``custom_remote_identities.fqdn_id``.
- The stamp recorded beside the key: ``cloudflare.magic psk <RFC 3339>`` (in force),
  ``cloudflare.magic psk pending <RFC 3339>`` (written with the key, not yet verified) and
  ``cloudflare.magic psk unverified`` (a failed hand-off). Only the first names a key in force.
- Refusals: every value of Cloudflare's answer that reaches a router's configuration is checked against
  what that platform's configuration syntax can carry; a message names the field, never the key.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import OptionError
from ansible_collections.cloudflare.magic.plugins.module_utils._options import parse_instant
from ansible_collections.cloudflare.magic.plugins.module_utils._rotation import check_psk

STAMP_PREFIX = "cloudflare.magic psk"
STAMP_STATES = ("in_force", "pending", "unverified")
# What each platform's configuration syntax can carry in a key, on top of the rules for a key of one's own
# (check_psk: a string of 16 characters or more, no control character, no white space around it).
# ``allowed``: a character class every character must be in; ``max_length``: None when no limit is documented;
# ``refused_prefix``: a start the platform reads as another form of key.
KEY_RULES = {
    # swanctl.conf gets the key as 0s<base64> (templates/strongswan/swanctl.conf.j2): any character is carried.
    "strongswan": {"allowed": r"[^\x00-\x1f\x7f]", "max_length": None, "refused_prefix": None,
                   "why": "any character but a control character"},
    # A `set ... secret '<key>'` line (vyos_config lines): a quote ends the value, a line break the command;
    # VyOS then writes the secret into its own swanctl.conf between double quotes, where \ is an escape.
    "vyos": {"allowed": r"[!#-&(-\[\]-~]", "max_length": None, "refused_prefix": None,
             "why": "printable ASCII without space, ' \" or \\"},
    # `pre-shared-key <key>` typed into the IOS XE CLI over network_cli: a space splits the word, ? calls
    # the CLI's help instead of being typed, a double quote is taken as quoting; 128 characters at most
    # (the longest pre-shared key IOS takes).
    "ios_xe": {"allowed": r"[!#->@-~]", "max_length": 128, "refused_prefix": None,
               "why": "printable ASCII without space, ? or \""},
    # FortiOS `psksecret`: an ASCII string, or hexadecimal with a leading 0x (FortiOS CLI reference,
    # vpn ipsec phase1-interface), so a key that starts with 0x would be read as hex; FortiOS keeps
    # pre-shared keys to 128 characters (the password policy's maximum for IPsec pre-shared keys).
    "fortios": {"allowed": r"[!-~]", "max_length": 128, "refused_prefix": ("0x", "0X"),
                "why": "printable ASCII without space, not starting with 0x"},
    # Junos `pre-shared-key ascii-text "<key>"` in a set line: inside the double quotes a " ends the value
    # and \ is an escape; ascii-text means ASCII.
    "junos": {"allowed": r"[!#-\[\]-~]", "max_length": None, "refused_prefix": None,
              "why": "printable ASCII without space, \" or \\"},
}
# The platforms whose inside address and IKE peer take IPv4 only (IOS XE's template writes IPv4 masks).
IPV4_ONLY = frozenset({"ios_xe", "fortios", "junos"})

_LABEL = r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)"
_FQDN = re.compile(rf"\A{_LABEL}(?:\.{_LABEL})+\Z")
_EMAIL = re.compile(rf"\A[A-Za-z0-9!#$%&*+/=^_{{|}}~.-]{{1,64}}@{_LABEL}(?:\.{_LABEL})+\Z")
# ID_KEY_ID, as Cloudflare's bulk endpoint example shows ipsec_id (12345_abc123def4567890abcdef1234567890).
_KEY_ID = re.compile(r"\A[A-Za-z0-9_-]{1,128}\Z")
_NAME_REFUSED = "'\"`"


class HandoffValueError(ValueError):
    """A value the router must not be given; the message names its field and never quotes a key."""


# --- the derived values -------------------------------------------------------------------------
def router_inside_address(interface_address, field="interface_address"):
    """The router's side of Cloudflare's /31 or /30 ``interface_address``, as ``address/prefix``."""
    if not isinstance(interface_address, str) or "/" not in interface_address:
        raise HandoffValueError(f"{field} is not an address with its prefix length (such as 10.252.2.26/31)")
    try:
        cloudflare_side = ipaddress.ip_interface(interface_address.strip())
    except ValueError:
        raise HandoffValueError(f"{field} is not an address with its prefix length (such as 10.252.2.26/31)") from None
    if cloudflare_side.version != 4:
        raise HandoffValueError(f"{field} is an IPv6 network; Cloudflare's interface_address is an IPv4 /31 or /30 "
                                "(IPv6 has a field of its own, interface_address6)")
    network = cloudflare_side.network
    if network.prefixlen not in (30, 31):
        raise HandoffValueError(f"{field} is a /{network.prefixlen}; Cloudflare gives a /31 (or a /30)")
    usable = list(network.hosts()) if network.prefixlen == 30 else list(network)
    if cloudflare_side.ip not in usable:
        raise HandoffValueError(f"{field} is the network or broadcast address of its /30, not a usable one")
    router_side = next(address for address in usable if address != cloudflare_side.ip)
    return f"{router_side}/{network.prefixlen}"


def ike_identity_source(answer, ike_id=None):
    """``(identity, field)``: the router's IKE identity and where it came from, or ``("", None)``."""
    answer = answer if isinstance(answer, dict) else {}
    tunnel = answer.get("tunnel") if isinstance(answer.get("tunnel"), dict) else {}
    custom = tunnel.get("custom_remote_identities")
    candidates = (
        (ike_id, "tunnel_psk_ike_id"),
        (answer.get("ipsec_id"), "ipsec_id of Cloudflare's answer"),
        (custom.get("fqdn_id") if isinstance(custom, dict) else None,
         "custom_remote_identities.fqdn_id of Cloudflare's tunnel"),
    )
    for value, field in candidates:
        if value not in (None, ""):
            return value, field
    return "", None


def psk_stamp(time="", state="in_force"):
    """The stamp text recorded beside the key, in the grammar every platform shares."""
    if state not in STAMP_STATES:
        raise HandoffValueError(f"the stamp state must be one of {', '.join(STAMP_STATES)}, not {state!r}")
    if state == "unverified":
        return f"{STAMP_PREFIX} unverified"
    check_stamp_time(time, "the stamp's time")
    return f"{STAMP_PREFIX} {'pending ' if state == 'pending' else ''}{time}"


def stamp_in_force(text):
    """The RFC 3339 time of a stamp read from a router when it names a key in force, else ``""``.

    Takes the stamp line (``cloudflare.magic psk <time>``, with or without a leading ``#``, the older
    ``cloudflare.magic <tunnel> psk <time>``) or the time alone. ``pending``, ``unverified``, anything garbled
    and a time that is not full RFC 3339 (``2026-01-01``, ``2026-11-26T10:48Z``) give ``""``: no stamp, so the
    run rotates and repairs the router."""
    if not isinstance(text, str):
        return ""
    words = text.strip().lstrip("#").strip().strip("'\"").split()
    if words[:1] == ["cloudflare.magic"]:
        words = words[1:]
        if len(words) == 3 and words[1] == "psk":
            words = words[1:]  # the older example playbooks' `cloudflare.magic <tunnel> psk <time>`
        if words[:1] != ["psk"]:
            return ""
        words = words[1:]
    if len(words) != 1:
        return ""
    try:
        check_stamp_time(words[0], "stamp")
    except HandoffValueError:
        return ""
    return words[0]


def check_stamp_time(value, field):
    """``value`` if it is a full RFC 3339 time without white space, else HandoffValueError naming ``field``."""
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise HandoffValueError(f"{field} is not an RFC 3339 time (such as 2026-11-26T10:48:15.953887008Z)")
    try:
        parse_instant(value)
    except ValueError:
        raise HandoffValueError(f"{field} is not an RFC 3339 time (such as 2026-11-26T10:48:15.953887008Z)") from None
    return value


# --- the checks ---------------------------------------------------------------------------------
def check_key(key, platform, field="psk of Cloudflare's answer"):
    """The key, if the platform's configuration can carry it; the message never shows the key."""
    rules = platform_rules(platform)
    try:
        check_psk(field, key)
    except OptionError as problem:
        # OptionError reads "<field>: <problem>. <fix for an own key>"; the fix does not apply to an answer.
        raise HandoffValueError(f"{problem}".split(". ", maxsplit=1)[0]) from None
    if rules["max_length"] and len(key) > rules["max_length"]:
        raise HandoffValueError(f"{field}: is longer than the {rules['max_length']} characters {platform} takes")
    if rules["refused_prefix"] and key.startswith(rules["refused_prefix"]):
        raise HandoffValueError(f"{field}: starts with 0x, which {platform} reads as a hexadecimal key")
    if not re.fullmatch(f"{rules['allowed']}+", key):
        raise HandoffValueError(f"{field}: holds a character {platform}'s configuration cannot carry "
                                f"(it takes {rules['why']})")
    return key


def check_identity(value, field):
    """An FQDN, an email-form id (ipsec@<fqdn>), an IP address or a key id (letters, digits, _ and -)."""
    if isinstance(value, str) and (_FQDN.match(value) or _EMAIL.match(value) or _KEY_ID.match(value)):
        if len(value) <= 253:
            return value
    if isinstance(value, str):
        try:
            ipaddress.ip_address(value)
            return value
        except ValueError:
            pass
    raise HandoffValueError(f"{field} is not an IKE identity (an FQDN, an email-form id such as ipsec@<fqdn>, "
                            "an IP address, or a key id of letters, digits, _ and -)")


def check_endpoint(value, field, platform=None):
    """An IP address (IPv4 on the platforms that take IPv4 only)."""
    try:
        address = ipaddress.ip_address(value) if isinstance(value, str) else None
    except ValueError:
        address = None
    if address is None:
        raise HandoffValueError(f"{field} is not an IP address")
    if address.version != 4 and platform in IPV4_ONLY:
        raise HandoffValueError(f"{field} is an IPv6 address; the role configures {platform} for IPv4 only")
    return value


def check_name(value, field):
    """A name (a tunnel's, an interface's, a peer's): text without control characters or quotes."""
    if not isinstance(value, str):
        raise HandoffValueError(f"{field} is not text")
    if any(unicodedata.category(c) == "Cc" or c in _NAME_REFUSED for c in value):
        raise HandoffValueError(f"{field} holds a control character (a line break, a tab...) or a quote "
                                "(' \" `), which router configuration cannot carry")
    return value


def platform_rules(platform):
    try:
        return KEY_RULES[platform]
    except (KeyError, TypeError):
        raise HandoffValueError(f"no key rules for the platform {platform!r} (known: {', '.join(KEY_RULES)})") from None


NO_IDENTITY = ("no IKE identity is known for the router: Cloudflare's tunnel has no custom_remote_identities.fqdn_id "
               "and its psk_generate answer carries no ipsec_id (the published schema has none). Set tunnel_psk_ike_id "
               "(router_ike_id in the example playbooks) to the router's identity as Cloudflare's dashboard shows it "
               "for this tunnel (its FQDN ID, of the form <tunnel id>.<account part>.ipsec.cloudflare.com; the account "
               "part is not the 32-character account ID)")


def answer_refusals(answer, platform, ike_id=None, stamp_required=None, identity_required=False):
    """Every refusal of ``answer`` (ipsec_psk's result, or ``{"tunnel": ...}`` from a look-up before any rotation)
    for ``platform``, as messages that name the field refused; ``[]`` when the router may be handed all of it.

    The key and the stamp are checked when the answer holds a key (``stamp_required`` overrides, for check mode);
    the tunnel's endpoints, inside address and name whenever there is a tunnel; with ``identity_required``, an
    answer that gives the router no IKE identity is refused too."""
    refusals = []
    platform_ok = _collect(refusals, platform_rules, platform)
    answer = answer if isinstance(answer, dict) else {}
    tunnel = answer.get("tunnel") if isinstance(answer.get("tunnel"), dict) else {}
    where = "of Cloudflare's tunnel"
    if "psk" in answer and platform_ok:
        _collect(refusals, check_key, answer["psk"], platform)
    if stamp_required if stamp_required is not None else "psk" in answer:
        metadata = answer.get("psk_metadata") if isinstance(answer.get("psk_metadata"), dict) else {}
        _collect(refusals, check_stamp_time, metadata.get("last_generated_on"),
                 "psk_metadata.last_generated_on of Cloudflare's answer")
    identity, source = ike_identity_source(answer, ike_id)
    if source:
        _collect(refusals, check_identity, identity, source)
    elif identity_required:
        refusals.append(NO_IDENTITY)
    if "name" in tunnel:
        _collect(refusals, check_name, tunnel["name"], f"name {where}")
    _collect(refusals, check_endpoint, tunnel.get("cloudflare_endpoint"), f"cloudflare_endpoint {where}", platform)
    if tunnel.get("customer_endpoint") not in (None, ""):
        _collect(refusals, check_endpoint, tunnel["customer_endpoint"], f"customer_endpoint {where}", platform)
    _collect(refusals, router_inside_address, tunnel.get("interface_address"), f"interface_address {where}")
    return refusals


def name_refusals(names):
    """Refusals of name inputs (``{option: value}``): text without control characters or quotes; the IKE
    identity also of an identity's form. Values that are not text (lists, numbers) are left to the spec."""
    refusals = []
    for option, value in sorted((names or {}).items()):
        if isinstance(value, str) and value:
            if _collect(refusals, check_name, value, option) and option == "tunnel_psk_ike_id":
                _collect(refusals, check_identity, value, option)
    return refusals


def _collect(refusals, check, *args):
    try:
        check(*args)
    except HandoffValueError as problem:
        refusals.append(f"{problem}")
        return False
    return True
