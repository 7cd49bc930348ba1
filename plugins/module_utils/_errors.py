# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors of the cloudflare.magic collection, and what each one means for a retry. For internal collection use only.

Every message built here is shown to a user, so none may hold a secret: messages are made from
option names, identifiers, HTTP statuses and Cloudflare's own error codes and texts, and pass
through ``redact`` before they leave the collection.

The two rules the client's retry loop lives by are properties of the errors, written once here:
``retryable`` (may another attempt get a better answer?) and ``may_have_been_applied`` (may the
request have been carried out although its answer is lost or unreadable?).
"""

from __future__ import annotations

import re

REDACTED = "********"
KEY_UNCHANGED = "The tunnel's pre-shared key was not changed."
# Credentials and own keys shorter than this are refused before any request (``_options``). Masking
# every occurrence of a secret is only safe for long ones: "en" masked in "authentication failed"
# would show the secret. A shorter value (one refused, or a proxy password) is masked only where it
# stands as a whole word, never inside a longer one.
MIN_SECRET_LENGTH = 16


def redact(text, secrets):
    """Return ``text`` with every secret replaced: a long one wherever it occurs, a short one as a whole word."""
    text = f"{text}"
    for secret in sorted({s for s in secrets if isinstance(s, str) and s}, key=len, reverse=True):
        if len(secret) >= MIN_SECRET_LENGTH:
            text = text.replace(secret, REDACTED)
        else:
            text = re.sub(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])", REDACTED, text)
    return text


def redact_fields(value, secrets, keep=()):
    """A copy of ``value`` (a result: dicts, lists, strings at any depth) with every string redacted,
    dict keys included. ``keep`` holds paths (tuples of keys, ``"*"`` for any) whose value is handed on
    as it is: the keys a failed bulk task still hands to the routers."""
    if isinstance(value, dict):
        copied = {}
        for name, item in value.items():
            inner = tuple(path[1:] for path in keep if path and path[0] in (name, "*"))
            if () in inner:
                copied[name] = item
            else:
                copied[redact(name, secrets) if isinstance(name, str) else name] = redact_fields(item, secrets, inner)
        return copied
    if isinstance(value, (list, tuple)):
        return [redact_fields(item, secrets, keep) for item in value]
    return redact(value, secrets) if isinstance(value, str) else value


class CloudflareMagicError(Exception):
    """Base class: ``str(error)`` is a complete, secret-free message for the task result."""

    retryable = False
    may_have_been_applied = False
    timed_rate_limit = False
    # Secrets only this error knows (keys generated for the request that failed); redacted with the task's.
    secrets = ()

    def result_fields(self):
        """Extra fields for the failed task's result (never secrets)."""
        return {}


class OptionError(CloudflareMagicError):
    """Input rejected before any request is sent."""

    def __init__(self, option, problem, fix):
        super().__init__(f"{option}: {problem}. {fix}")


class TransportError(CloudflareMagicError):
    """No usable HTTP answer came back (refused, reset, timeout, TLS failure)."""

    def __init__(self, message, request_sent=False, retryable=True):
        # A request that left us may have been carried out even though no answer came back.
        self.may_have_been_applied = request_sent
        self.retryable = retryable
        super().__init__(message)


class ApiError(CloudflareMagicError):
    """Cloudflare answered with a failure: an HTTP error, ``success: false``, or a body that is not the envelope."""

    def __init__(self, status, errors, summary, retry_after=None, readable=True):
        self.status = status
        # False when the body was not Cloudflare's envelope (HTML, cut short): nothing is known from it.
        self.readable = readable
        self.errors = [{"code": e.get("code"), "message": e.get("message")} for e in errors]
        self.retry_after = retry_after
        message = f"Cloudflare API answered HTTP {status}: {summary}"
        codes = "; ".join(f"[{e['code']}] {e['message']}" for e in self.errors)
        if codes:
            message += f" ({codes})"
        super().__init__(message)

    @property
    def may_have_been_applied(self):
        # A server-side failure or a 2xx whose body could not be read may follow a persisted change; a
        # readable refusal (4xx, 429, a 200 with success: false) says that nothing was done.
        return self.status >= 500 or (200 <= self.status < 300 and not self.readable)

    @property
    def retryable(self):
        return self.status == 429 or self.may_have_been_applied

    @property
    def timed_rate_limit(self):
        """A 429 that says how long to wait (Retry-After)."""
        return self.status == 429 and self.retry_after is not None

    def result_fields(self):
        return {"status": self.status, "cloudflare_errors": self.errors}


class TunnelLookupError(CloudflareMagicError):
    """A tunnel name matched no tunnel, or more than one."""


class KeyStateUnknown(CloudflareMagicError):
    """A key may have been generated but its answer never arrived: the tunnel's key is now unknown."""


def note_key_unchanged(error):
    """``error`` with its message saying that the tunnel's key stayed as it was."""
    error.args = (f"{error.args[0].rstrip()} {KEY_UNCHANGED}",)
    return error
