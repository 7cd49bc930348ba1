# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors of the cloudflare.magic collection. For internal collection use only.

Every message built here is shown to a user, so none may hold a secret: messages are made from
option names, identifiers, HTTP statuses and Cloudflare's own error codes and texts, and pass
through ``redact`` before they leave the collection.
"""

from __future__ import annotations

REDACTED = "********"


def redact(text, secrets):
    """Return ``text`` with every occurrence of every non-empty secret replaced."""
    text = f"{text}"
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


class CloudflareMagicError(Exception):
    """Base class: ``str(error)`` is a complete, secret-free message for the task result."""

    def result_fields(self):
        """Extra fields for the failed task's result (never secrets)."""
        return {}


class OptionError(CloudflareMagicError):
    """Input rejected before any request is sent."""

    def __init__(self, option, problem, fix):
        self.option = option
        super().__init__(f"{option}: {problem}. {fix}")


class TransportError(CloudflareMagicError):
    """No usable HTTP answer came back (refused, reset, timeout, TLS failure)."""

    def __init__(self, message, request_sent=False, retryable=True):
        self.request_sent = request_sent
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
    def codes(self):
        return [e["code"] for e in self.errors]

    def result_fields(self):
        return {"status": self.status, "cloudflare_errors": self.errors}


class TunnelLookupError(CloudflareMagicError):
    """A tunnel name matched no tunnel, or more than one."""


class KeyStateUnknown(CloudflareMagicError):
    """A key may have been generated but its answer never arrived: the tunnel's key is now unknown."""


KEY_UNCHANGED = "The tunnel's pre-shared key was not changed."


def note_key_unchanged(error):
    """``error`` with its message saying that the tunnel's key stayed as it was."""
    error.args = (f"{error.args[0].rstrip()} {KEY_UNCHANGED}",)
    return error
