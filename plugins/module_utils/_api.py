# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Cloudflare API v4 client on a requests session. For internal collection use only.

It speaks the envelope (``success``, ``errors``, ``result``), retries what is safe to retry, and
turns every failure into a ``CloudflareMagicError`` whose message holds no secret.

Retries are a loop here rather than urllib3's ``Retry``: a POST to ``psk_generate`` whose answer is
lost (reset after sending, timeout, 5xx, a cut body) must be *sent again* so that the key handed on
is the one in force, and the task must know that a key may have changed when it finally gives up;
urllib3 knows neither, nor a body that fails to parse.
"""

from __future__ import annotations

import platform
import time

try:
    import requests
    from requests.adapters import HTTPAdapter

    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised only where requests is missing
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import (
    ApiError,
    KeyStateUnknown,
    TransportError,
    note_key_unchanged,
    redact,
)
from ansible_collections.cloudflare.magic.plugins.module_utils._responses import parse_envelope
from ansible_collections.cloudflare.magic.plugins.module_utils._retry import RetryPolicy, is_timed_rate_limit

COLLECTION_VERSION = "0.1.0"
USER_AGENT = f"cloudflare.magic/{COLLECTION_VERSION} (Ansible collection; Python {platform.python_version()})"


class NoPacing:
    """Pacing that never waits; the controller side supplies a real one."""

    def before_request(self, bucket):
        return 0.0

    def observe(self, bucket, headers, status):
        return None


class CloudflareClient:
    """Calls Cloudflare's API with one credential; ``call`` returns the envelope's ``result``."""

    def __init__(self, base_url, credentials, timeout=30.0, validate_certs=True, ca_path=None,
                 retry=None, pacing=None, session=None, sleep=time.sleep, clock=time.monotonic):
        if not HAS_REQUESTS:
            raise TransportError(
                "The Python library 'requests' is needed on the Ansible controller: "
                f"pip install requests ({REQUESTS_IMPORT_ERROR})")
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.timeout = timeout
        self.verify = (ca_path or True) if validate_certs else False
        self.retry = retry or RetryPolicy()
        self.pacing = pacing or NoPacing()
        self.sleep = sleep
        self.clock = clock
        self.session = session or _new_session()
        self.requests_sent = 0

    def _secrets(self):
        return self.credentials.secrets()

    def call(self, method, path, params=None, body=None, mutates=False):
        """Send one logical request, retrying as ``self.retry`` allows.

        ``mutates`` marks a request that changes state each time it is carried out (generating a
        key): if any attempt may have been carried out without its answer reaching us, and no
        later attempt succeeds, the failure says so.
        """
        deadline = self.clock() + self.retry.max_time
        rate_limit_waited = 0.0
        maybe_applied = False
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(method, path, params, body)
            except (ApiError, TransportError) as error:
                if mutates and _may_have_been_applied(error):
                    maybe_applied = True
                wait = self.retry.wait_before_retry(error, attempt, deadline - self.clock(), rate_limit_waited)
                if wait is None:
                    raise self._final(self.retry.explain(error), mutates, maybe_applied, attempt) from None
                if is_timed_rate_limit(error):
                    # Waiting out a block is bounded by rate_limit_max_wait, not by retry_max_time.
                    rate_limit_waited += wait
                    deadline += wait
                self.sleep(wait)

    def _final(self, error, mutates, maybe_applied, attempts):
        if not maybe_applied:
            # Every attempt was refused or never reached Cloudflare: nothing was generated.
            return note_key_unchanged(error) if mutates else error
        return KeyStateUnknown(redact(
            f"{error} After {attempts} attempt(s) no answer confirmed a new key, but Cloudflare may "
            "have generated one whose answer was lost: the tunnel's pre-shared key may have changed "
            "and is unknown. Rotate it again to get a key that is in force.", self._secrets()))

    def _attempt(self, method, path, params, body):
        url = self.base_url + path
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        headers.update(self.credentials.headers())
        bucket = self.credentials.bucket
        self.pacing.before_request(bucket)
        self.requests_sent += 1
        try:
            response = self.session.request(
                method, url, params=params, json=body, headers=headers, auth=_keep_headers,
                timeout=(min(self.timeout, 10.0), self.timeout), verify=self.verify, allow_redirects=False)
            content = response.content
        except requests.exceptions.SSLError as exc:
            raise TransportError(redact(
                f"TLS verification of {self.base_url} failed ({_root_cause(exc)}). If the server uses a "
                "private CA, set ca_path to that CA's PEM file; set validate_certs to false only for a "
                "throwaway test.", self._secrets()), retryable=False) from None
        except requests.exceptions.ConnectTimeout:
            raise TransportError(f"No connection to {self.base_url} within {self.timeout:g} s (timeout).") from None
        except requests.exceptions.Timeout:
            raise TransportError(
                f"No answer from {self.base_url} within {self.timeout:g} s after the request was sent (timeout).",
                request_sent=True) from None
        except requests.exceptions.ConnectionError as exc:
            sent = not _is_connect_failure(exc)
            what = "the connection was dropped before an answer came" if sent else "could not connect"
            raise TransportError(redact(f"{method} {path}: {what} ({_root_cause(exc)}).", self._secrets()),
                                 request_sent=sent) from None
        except requests.exceptions.RequestException as exc:
            raise TransportError(redact(f"{method} {path}: request failed ({_root_cause(exc)}).",
                                        self._secrets()), request_sent=True) from None
        self.pacing.observe(bucket, response.headers, response.status_code)
        try:
            return parse_envelope(response.status_code, response.headers, content)
        except ApiError as error:
            error.args = (redact(error.args[0], self._secrets()),)
            raise


def _keep_headers(prepared):
    """An auth hook that changes nothing: it stops requests from putting ~/.netrc credentials in
    place of ours, while proxies and REQUESTS_CA_BUNDLE from the environment still apply."""
    return prepared


def _may_have_been_applied(error):
    if isinstance(error, TransportError):
        return error.request_sent
    # A 2xx whose body could not be read, or a server-side failure, may follow a persisted key; a
    # readable refusal (4xx, 429, a 200 with success: false) says that nothing was done.
    if error.status is None:
        return True
    return error.status >= 500 or (200 <= error.status < 300 and not error.readable)


def _is_connect_failure(exc):
    text = repr(exc)
    return any(s in text for s in ("NewConnectionError", "Connection refused", "Name or service not known",
                                   "nodename nor servname", "No route to host", "Failed to resolve"))


def _root_cause(exc):
    seen = exc
    while True:
        nxt = seen.__cause__ or seen.__context__
        if nxt is None and seen.args and isinstance(seen.args[0], BaseException):
            nxt = seen.args[0]
        if nxt is None or nxt is seen:
            break
        seen = nxt
    reason = getattr(seen, "reason", None)
    if reason is not None and reason is not seen:
        seen = reason
    text = f"{type(seen).__name__}: {seen}"
    return text[:300]


def _new_session():
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
