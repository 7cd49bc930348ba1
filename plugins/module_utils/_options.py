# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the collection's modules and every check made on them before a request is sent.
For internal collection use only.

Here are the argument specs (each default is given once, in the spec; the doc fragment
``cloudflare.magic.connection`` documents the same options and a unit test keeps the two in step),
the credentials, ages and timestamps, and ``Connection``: a task's validated connection options,
from which the client and the controller's pacing are built. Which values are secret is said once,
by ``no_log`` in the specs and ``SECRET_ENV_NAMES``; ``task_secrets`` collects them for redaction.

Explicit credential options win over the environment as a whole, so a play that passes ``api_email``
and ``api_key`` is not tripped up by a ``CLOUDFLARE_API_TOKEN`` left in the environment, and the other
way round. Within one source, exactly one method must be given.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import os
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from ansible.module_utils.basic import env_fallback

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import MIN_SECRET_LENGTH, OptionError

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"
IDENTIFIER = re.compile(r"\A[0-9a-f]{32}\Z")

# Credentials are resolved by resolve_credentials rather than by env_fallback, so that explicit
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
    allow_short_max_age=dict(type="bool", default=False),
    router_psk_generated_on=dict(type="str"),
    psk=dict(type="str", no_log=True),
)
IPSEC_PSK_MUTUALLY_EXCLUSIVE = [["ipsec_tunnel_id", "ipsec_tunnel_name"]]
IPSEC_PSK_REQUIRED_ONE_OF = [["ipsec_tunnel_id", "ipsec_tunnel_name"]]


def check_text_options(spec, args):
    """Refuse a list or a mapping given to a ``str`` option, before Ansible's argument validation
    would turn it into its text (``['key']``) and send that; OptionError names the option, not the value.

    A secret (a ``no_log`` option) that YAML read as a number or a boolean is refused too: its text is not
    what was written (a float loses digits, ``0x1F`` becomes ``31``), so the key sent would not be the
    router's. Other options keep taking numbers (``max_age: 3600``)."""
    for option, option_spec in spec.items():
        value = args.get(option)
        if option_spec.get("type") != "str":
            continue
        if isinstance(value, (list, tuple, dict)):
            kind = "mapping" if isinstance(value, dict) else "list"
        elif option_spec.get("no_log") and isinstance(value, (bool, int, float)):
            kind = "boolean" if isinstance(value, bool) else "number"
        else:
            continue
        raise OptionError(option, f"must be one string, not a {kind}; nothing was sent to Cloudflare",
                          "Give a single quoted value (for a key from a vault, the key itself).")


def check_identifier(option, value, env=None, where_set=None):
    """Return ``value`` as Cloudflare writes identifiers (32 lowercase hex), or raise OptionError.
    ``where_set`` names the option a variable ``option`` stands in for (``CLOUDFLARE_ACCOUNT_ID`` for
    ``account_id``), so that the message names what the user actually set."""
    where = f" (or {env})" if env else f" (or the task option {where_set})" if where_set else ""
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


def check_base_url(value, option="api_base_url"):
    """Return the base URL without a trailing slash; refuse clear-text HTTP except to loopback."""
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


def option_source(option, value, environ):
    """How a message names where ``value`` of ``option`` came from: its variable when the task's environment
    holds exactly that value (the option was left unset and the fallback filled it), else the option."""
    env = ENV_FALLBACKS.get(option)
    if env and value is not None and environ.get(env) == value:
        return f"{env} (the environment variable behind {option})"
    return option


# Options whose value may come from a variable, as their specs' fallbacks say.
ENV_FALLBACKS = {"account_id": "CLOUDFLARE_ACCOUNT_ID", "api_base_url": "CLOUDFLARE_BASE_URL"}


def check_connection(params, environ=None):
    """Check the connection options; return them normalised. Credentials are checked by resolve_credentials.
    ``environ`` (the task's environment) only tells messages whether a value came from a variable."""
    environ = environ or {}
    checked = dict(params)
    account_id = params.get("account_id")
    if option_source("account_id", account_id, environ) != "account_id":
        checked["account_id"] = check_identifier("CLOUDFLARE_ACCOUNT_ID", account_id, where_set="account_id")
    else:
        checked["account_id"] = check_identifier("account_id", account_id, "CLOUDFLARE_ACCOUNT_ID")
    checked["api_base_url"] = check_base_url(params.get("api_base_url"),
                                             option_source("api_base_url", params.get("api_base_url"), environ))
    check_positive("timeout", params.get("timeout"), "Give the seconds to wait for an answer, e.g. 30.")
    check_positive("retry_max_time", params.get("retry_max_time"), "Give the seconds all attempts may take, e.g. 180.")
    max_wait = params.get("rate_limit_max_wait")
    if max_wait is None or math.isnan(max_wait) or max_wait < 0 or math.isinf(max_wait) or max_wait > MAX_SECONDS:
        raise OptionError("rate_limit_max_wait", f"must be zero or more seconds, at most {MAX_SECONDS:g}",
                          "Give how long a rate-limited task may wait, e.g. 310; 0 fails at once.")
    check_positive("retry_backoff", params.get("retry_backoff"),
                   "Give the seconds to wait before the first retry, e.g. 1.")
    check_positive("retry_backoff_max", params.get("retry_backoff_max"),
                   "Give the longest wait between two attempts in seconds, e.g. 30.")
    if params.get("retries") is None or not 0 <= params["retries"] <= 20:
        raise OptionError("retries", "must be between 0 and 20", "Give how many times to retry, e.g. 4.")
    ca_path = params.get("ca_path")
    if ca_path is not None and not os.path.isfile(ca_path):
        raise OptionError("ca_path", f"names no readable file ({ca_path})",
                          "Give the path of a PEM file holding the CA certificate(s) to trust.")
    if ca_path is not None and not params["validate_certs"]:
        raise OptionError("ca_path", "is set while validate_certs is false",
                          "Keep validate_certs true to have the CA bundle used.")
    return checked


# The variables that hold a credential's secret part (CLOUDFLARE_EMAIL is not secret).
SECRET_ENV_NAMES = ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_KEY")


def task_secrets(spec, params, environ):
    """Every secret value a task was given: its ``no_log`` options (a dict option's values) and the
    credential variables of its environment, for ``redact``."""
    found = [environ.get(name) for name in SECRET_ENV_NAMES]
    for option, option_spec in spec.items():
        value = params.get(option)
        if option_spec.get("no_log") and value is not None:
            found += list(value.values()) if isinstance(value, dict) else [value]
    return [value for value in found if isinstance(value, str) and value]


class Connection:
    """The validated connection and authentication options of one task; building it sends nothing."""

    def __init__(self, params, environ):
        self.options = check_connection(params, environ)
        self.credentials = resolve_credentials(params, environ)
        self.account_id = self.options["account_id"]
        self.base_url = self.options["api_base_url"]
        # Named by messages about an unreachable API or a refused account.
        self.base_url_source = option_source("api_base_url", params.get("api_base_url"), environ)
        if self.base_url_source == "api_base_url" and params.get("api_base_url") == DEFAULT_BASE_URL:
            self.base_url_source = "api_base_url (its default)"
        self.account_source = option_source("account_id", params.get("account_id"), environ)
        self.environ = environ  # the task's effective environment: proxies and CA bundle come from it


# --- credentials --------------------------------------------------------------------------------
OPTION_NAMES = ("api_token", "api_email", "api_key")
# Visible ASCII only: Cloudflare's tokens, keys and account emails are ASCII, and http.client writes a
# header in latin-1, so anything else fails in the middle of sending (once said "may have changed").
HEADER_SAFE = re.compile(r"\A[\x21-\x7e]+\Z")
ENV_NAMES = ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY")


class Credentials:
    """An API token, or an account email with its Global API key."""

    def __init__(self, api_token=None, api_email=None, api_key=None, source="the task's options"):
        self.api_token = api_token
        self.api_email = api_email
        self.api_key = api_key
        self.source = source  # "the task's options" or "the environment", for messages

    def described(self):
        """The credential as a message names it: its kind and where it was set, never its value."""
        if self.api_token:
            name = "api_token" if self.source == "the task's options" else "CLOUDFLARE_API_TOKEN"
            return f"the API token from {name}"
        names = ("api_email + api_key" if self.source == "the task's options"
                 else "CLOUDFLARE_EMAIL + CLOUDFLARE_API_KEY")
        return f"the Global API key from {names}"

    @property
    def method(self):
        return "api_token" if self.api_token else "api_email+api_key"

    def headers(self):
        if self.api_token:
            return {"Authorization": f"Bearer {self.api_token}"}
        return {"X-Auth-Email": self.api_email, "X-Auth-Key": self.api_key}

    def secrets(self):
        """The values that must never be shown anywhere."""
        return [s for s in (self.api_token, self.api_key) if s]

    @property
    def bucket(self):
        """A one-way name for this credential, for sharing rate-limit state without the secret."""
        material = self.api_token or f"{self.api_email}\n{self.api_key}"
        return hashlib.sha256(material.encode("utf-8")).hexdigest()[:24]

    def __repr__(self):
        return f"Credentials(method={self.method})"


def _credentials_from(source, names, where):
    token_name, email_name, key_name = names
    token, email, key = (source.get(n) for n in names)
    for name, value in zip(names, (token, email, key)):
        if value is None:
            continue
        if not isinstance(value, str):
            raise OptionError(name, f"must be a string {where}", "Quote the value.")
        if value.strip() == "":
            raise OptionError(name, f"is empty {where}", "Give the value, or leave the option unset.")
        if value != value.strip() or any(c in value for c in "\r\n"):
            raise OptionError(name, f"has white space or a line break around or inside it {where}",
                              "Give the value exactly as Cloudflare shows it.")
        if not HEADER_SAFE.match(value):
            raise OptionError(name, f"holds a character other than visible ASCII {where} (a space, or one that "
                              "an HTTP header cannot carry), which no Cloudflare credential holds; nothing was "
                              "sent to Cloudflare",
                              "Give the value exactly as Cloudflare shows it.")
        if name != email_name and len(value) < MIN_SECRET_LENGTH:
            raise OptionError(name, f"is shorter than {MIN_SECRET_LENGTH} characters {where}, which no Cloudflare "
                              "credential is; nothing was sent to Cloudflare",
                              "Give the whole value as Cloudflare shows it (an API token has 40 characters).")
    if token and (email or key):
        raise OptionError(
            f"{token_name} / {email_name}, {key_name}",
            f"two authentication methods were given {where}",
            f"Give either {token_name}, or {email_name} with {key_name}, not both.",
        )
    source = "the environment" if token_name.startswith("CLOUDFLARE_") else "the task's options"
    if token:
        return Credentials(api_token=token, source=source)
    if email or key:
        missing = key_name if not key else email_name
        if not (email and key):
            raise OptionError(missing, f"is missing {where}: {email_name} and {key_name} go together",
                              f"Give both, or use {token_name} instead.")
        return Credentials(api_email=email, api_key=key, source=source)
    return None


def resolve_credentials(params, environ):
    """Return the ``Credentials`` to use, or raise ``OptionError`` naming the option and the fix."""
    explicit = _credentials_from(params, OPTION_NAMES, "in the task's options")
    if explicit is not None:
        return explicit
    # An empty variable counts as unset: AWX renders an unfilled credential field as "".
    environ = {name: environ.get(name) or None for name in ENV_NAMES}
    from_env = _credentials_from(environ, ENV_NAMES, "in the environment")
    if from_env is not None:
        return from_env
    raise OptionError(
        "api_token",
        "no Cloudflare credentials were given",
        "Set api_token (or CLOUDFLARE_API_TOKEN), or api_email with api_key "
        "(or CLOUDFLARE_EMAIL with CLOUDFLARE_API_KEY).",
    )


# --- ages and timestamps (max_age, psk_metadata.last_generated_on) ------------------------------
_DURATION = re.compile(r"\A\s*(\d+)\s*([dhms]?)\s*\Z")
_MAX_AGE_DIGITS = 12  # more is far beyond MAX_AGE_DAYS, and int() refuses over 4,300 digits
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1, "": 1}
MAX_AGE_DAYS = 36500  # far inside what timedelta and datetime arithmetic can hold
# RFC 3339: "T" and "Z" may be lower case, and a space may stand for "T" (its section 5.6 note).
_INSTANT = re.compile(r"\A(\d{4})-(\d{2})-(\d{2})([Tt ])(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
                      r"(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


MAX_AGE_FLOOR = timedelta(hours=1)  # a younger max_age rotates at nearly every run of a scheduled job


def parse_max_age(value, floor=None):
    """``90d``, ``12h``, ``30m``, ``45s`` or plain seconds, as a ``timedelta``; OptionError otherwise.

    With ``floor`` (the rotating modules pass MAX_AGE_FLOOR unless allow_short_max_age), a shorter age is
    refused: ``90`` meant as days or ``3m`` meant as months would rotate the key at every run."""
    text = f"{value}"
    match = _DURATION.match(text)
    if not match or match.group(1).strip("0") == "":
        shown = repr(text) if len(text) <= 40 else f"a value of {len(text)} characters"
        raise OptionError("max_age", f"{shown} is not a positive duration",
                          "Write it as a whole number with d, h, m or s (90d, 12h, 30m), or as seconds.")
    digits = match.group(1).lstrip("0")
    if len(digits) > _MAX_AGE_DIGITS or int(digits) * _UNIT_SECONDS[match.group(2)] > MAX_AGE_DAYS * 86400:
        raise OptionError("max_age", f"is longer than {MAX_AGE_DAYS} days (100 years)",
                          "Give a shorter age, such as 90d; to never rotate, skip the task instead.")
    age = timedelta(seconds=int(digits) * _UNIT_SECONDS[match.group(2)])
    if floor is not None and age < floor:
        unit = "seconds" if match.group(2) in ("", "s") else {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        raise OptionError("max_age", f"{text.strip()!r} is {int(digits)} {unit}, under {_duration_words(floor)}: "
                          "the key would be rotated at nearly every run",
                          "Give the age with its unit, such as 90d (days), 12h or 30m (minutes); to rotate "
                          "this often on purpose, set allow_short_max_age: true.")
    return age


def _duration_words(age):
    """A whole number of days, hours, minutes or seconds, as a person writes it (1 hour, 2 days)."""
    seconds = int(age.total_seconds())
    for size, name in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {name}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def parse_instant(value):
    """An RFC 3339 time (``Z`` or ``+HH:MM``, 0 to 9 digits of fraction) as ``(epoch_seconds, nanoseconds)``
    in UTC, so that ``==`` compares instants exactly; ValueError for anything else."""
    match = _INSTANT.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError("not an RFC 3339 time such as 2026-11-26T10:48:15.953887008Z")
    groups = match.groups()
    year, month, day, hour, minute, second = (int(group) for group in groups[:3] + groups[4:7])
    fraction, _zulu, sign, offset_hours, offset_minutes = groups[7:]
    local = datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)  # ValueError on a bad field
    offset = 0
    if sign:
        if int(offset_hours) > 23 or int(offset_minutes) > 59:
            raise ValueError("the UTC offset is out of range")
        offset = (int(offset_hours) * 3600 + int(offset_minutes) * 60) * (1 if sign == "+" else -1)
    seconds = (local - _EPOCH) // timedelta(seconds=1) - offset
    return seconds, int((fraction or "").ljust(9, "0"))


def parse_written_instant(value):
    """An instant as a user may write it in YAML: like ``parse_instant``, or what YAML and Ansible make of
    an unquoted one, a datetime or its text (``2026-11-01 10:00:00+00:00``). Those hold microseconds
    at most, so they come back as ``(epoch_seconds, nanoseconds, 6)``; ValueError for anything else."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("it has no UTC offset")
        seconds = (value - _EPOCH) // timedelta(seconds=1)
        return seconds, value.microsecond * 1000, 6
    seconds, nanoseconds = parse_instant(value)
    match = _INSTANT.match(value)
    if match.group(4) == " " and len(match.group(8) or "123456") == 6:
        return seconds, nanoseconds, 6  # Python's text of a datetime: microseconds, or none when zero
    return seconds, nanoseconds


def parse_timestamp(value):
    """Cloudflare's RFC 3339 time (nanoseconds allowed) as an aware UTC datetime, or None if unreadable."""
    try:
        seconds, nanoseconds = parse_instant(value.strip() if isinstance(value, str) else value)
    except ValueError:
        return None
    return _EPOCH + timedelta(seconds=seconds, microseconds=nanoseconds // 1000)


# Clocks differ a little; a stamp further ahead than this is not a time the key can have been made at.
FUTURE_SKEW = timedelta(minutes=5)


def is_future(generated, now):
    """True when ``generated`` (an aware datetime) lies more than FUTURE_SKEW after ``now``."""
    return generated is not None and generated - now > FUTURE_SKEW


def is_older_than(last_generated_on, max_age, now):
    """True when the key was generated longer ago than ``max_age``, or when its age is unknown: no readable
    stamp, or one further in the future than FUTURE_SKEW (a clock or a record gone wrong, not a young key)."""
    generated = parse_timestamp(last_generated_on)
    return generated is None or is_future(generated, now) or now - generated > max_age
