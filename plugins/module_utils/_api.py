# Copyright: cloudflare.magic contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Cloudflare API v4 client on a requests session. For internal collection use only.

It speaks the envelope (``success``, ``errors``, ``result``), retries what is safe to retry, and
turns every failure into a ``CloudflareMagicError`` whose message holds no secret.

Retries are a loop here rather than urllib3's ``Retry``: a POST to ``psk_generate`` whose answer is
lost (reset after sending, timeout, 5xx, a cut body) must be *sent again* so that the key handed on
is the one in force, and the task must know that a key may have changed when it finally gives up;
urllib3 knows neither, nor a body that fails to parse.

Each attempt has one deadline, ``timeout`` seconds, for connecting, sending and reading the whole answer:
a watchdog cuts the connection when it passes, so a server that trickles cannot stretch a read. Answers
are read in chunks and refused beyond ``MAX_ANSWER_BYTES``. The session ignores the process's
environment (``trust_env`` off, so no ~/.netrc either): proxies and the CA bundle come from the task's
effective environment, passed in as ``environ``.
"""

from __future__ import annotations

import os
import platform
import socket
import threading
import time

try:
    import requests
    from requests.adapters import HTTPAdapter

    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised only where requests is missing
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc
    HTTPAdapter = object  # lets this file load; CloudflareClient says what is missing

from ansible_collections.cloudflare.magic.plugins.module_utils._errors import (
    ApiError,
    KeyStateUnknown,
    TransportError,
    note_key_unchanged,
    redact,
)
from ansible_collections.cloudflare.magic.plugins.module_utils._proxies import proxy_for, proxy_secrets, proxy_shown
from ansible_collections.cloudflare.magic.plugins.module_utils._responses import parse_envelope
from ansible_collections.cloudflare.magic.plugins.module_utils._retry import RetryPolicy, is_timed_rate_limit

COLLECTION_VERSION = "0.1.0"
USER_AGENT = f"cloudflare.magic/{COLLECTION_VERSION} (Ansible collection; Python {platform.python_version()})"
# A list of 1,005 tunnels is about 0.5 MiB (540 bytes a tunnel), so 32 MiB holds some 60,000 tunnels.
MAX_ANSWER_BYTES = 32 * 1024 * 1024
_CHUNK_BYTES = 64 * 1024


class NoPacing:
    """Pacing that never waits; the controller side supplies a real one."""

    def before_request(self, bucket):
        return 0.0

    def observe(self, bucket, headers, status):
        return None


class CloudflareClient:
    """Calls Cloudflare's API with one credential; ``call`` returns the envelope's ``result``."""

    def __init__(self, base_url, credentials, timeout=30.0, validate_certs=True, ca_path=None,
                 retry=None, pacing=None, session=None, sleep=time.sleep, clock=time.monotonic, environ=None):
        if not HAS_REQUESTS:
            raise TransportError(
                "The Python library 'requests' is needed on the Ansible controller: "
                f"pip install requests ({REQUESTS_IMPORT_ERROR})")
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.timeout = timeout
        environ = os.environ if environ is None else environ
        self.verify = _verify(validate_certs, ca_path, environ)
        self.proxy = proxy_for(self.base_url, environ)
        # An empty mapping sends directly: with trust_env off, requests adds nothing from the process.
        self.proxies = {"https": self.proxy} if self.proxy else {}
        self.retry = retry or RetryPolicy()
        self.pacing = pacing or NoPacing()
        self.sleep = sleep
        self.clock = clock
        self.session = session or _new_session()
        self.requests_sent = 0

    def _secrets(self):
        return self.credentials.secrets() + proxy_secrets(self.proxy)

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
        deadline = _AttemptDeadline(self.timeout, self.session.get_adapter(url))
        try:
            response = self.session.request(
                method, url, params=params, json=body, headers=headers, auth=_keep_headers, stream=True,
                timeout=(min(self.timeout, 10.0), self.timeout), verify=self.verify, proxies=self.proxies,
                allow_redirects=False)
            try:
                content = self._read_answer(response, deadline)
            finally:
                response.close()
        except TransportError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure to get an answer becomes a TransportError
            raise self._transport_error(exc, method, path, deadline.expired) from None
        finally:
            deadline.stop()
        self.pacing.observe(bucket, response.headers, response.status_code)
        try:
            return parse_envelope(response.status_code, response.headers, content)
        except ApiError as error:
            error.args = (redact(error.args[0], self._secrets()),)
            raise

    def _read_answer(self, response, deadline):
        """The body, read in chunks within the attempt's deadline and refused beyond MAX_ANSWER_BYTES."""
        length = response.headers.get("Content-Length", "").strip()
        if length.isdigit() and int(length) > MAX_ANSWER_BYTES:
            raise self._too_large(f"{int(length)} bytes announced")
        content = bytearray()
        for chunk in response.iter_content(_CHUNK_BYTES):
            content += chunk
            if len(content) > MAX_ANSWER_BYTES:
                raise self._too_large("more than that sent")
            if deadline.expired or deadline.remaining() <= 0:
                raise self._too_late()
        if deadline.expired:
            raise self._too_late()
        return bytes(content)

    def _too_large(self, seen):
        return TransportError(
            f"The answer from {self.base_url} was refused as unreadable: it is larger than the "
            f"{MAX_ANSWER_BYTES // (1024 * 1024)} MiB this client reads ({seen}).",
            request_sent=True, retryable=False)

    def _too_late(self):
        return TransportError(
            f"The answer from {self.base_url} did not arrive in time: no complete answer within "
            f"{self.timeout:g} s (timeout) after the request was started.", request_sent=True)

    def _transport_error(self, exc, method, path, deadline_passed):
        secrets = self._secrets()
        if deadline_passed:
            return self._too_late()
        if isinstance(exc, requests.exceptions.ProxyError):
            return TransportError(redact(
                f"{method} {path}: the proxy {proxy_shown(self.proxy or '')} did not open a tunnel to "
                f"{self.base_url} ({_root_cause(exc)}), so the request never reached Cloudflare. Check "
                "HTTPS_PROXY / NO_PROXY in the task's environment.", secrets))
        if isinstance(exc, requests.exceptions.SSLError):
            return TransportError(redact(
                f"TLS verification of {self.base_url} failed ({_root_cause(exc)}). If the server uses a "
                "private CA, set ca_path to that CA's PEM file; set validate_certs to false only for a "
                "throwaway test.", secrets), retryable=False)
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return TransportError(f"No connection to {self.base_url} within {self.timeout:g} s (timeout).")
        if isinstance(exc, requests.exceptions.Timeout):
            return self._too_late()
        if isinstance(exc, requests.exceptions.ConnectionError):
            sent = not _is_connect_failure(exc)
            what = "the connection was dropped before an answer came" if sent else "could not connect"
            return TransportError(redact(f"{method} {path}: {what} ({_root_cause(exc)}).", secrets),
                                  request_sent=sent)
        return TransportError(redact(f"{method} {path}: request failed ({_root_cause(exc)}).", secrets),
                              request_sent=True)


class _AttemptDeadline:
    """One attempt's deadline: when it passes, the connection in use is cut, whatever it is waiting for."""

    def __init__(self, seconds, adapter):
        self.at = time.monotonic() + seconds
        self.adapter = adapter if isinstance(adapter, _WatchedAdapter) else None
        if self.adapter is not None:
            self.adapter.connection = None
        self.expired = False
        self._done = threading.Event()
        self._timer = None
        self._arm(seconds)

    def _arm(self, delay):
        if self._done.is_set():
            return
        self._timer = threading.Timer(delay, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self):
        if self._done.is_set():
            return
        self.expired = True
        if self.adapter is None or not self.adapter.cut():
            # Still connecting (bounded by the connect timeout): try again shortly.
            self._arm(0.1)

    def remaining(self):
        return self.at - time.monotonic()

    def stop(self):
        self._done.set()
        if self._timer is not None:
            self._timer.cancel()


class _WatchedAdapter(HTTPAdapter):
    """An adapter that keeps the connection in use within reach, so that a deadline can cut it."""

    def __init__(self):
        super().__init__(max_retries=0)
        self.connection = None

    def get_connection_with_tls_context(self, *args, **kwargs):  # requests >= 2.32
        return self._watch(super().get_connection_with_tls_context(*args, **kwargs))

    def get_connection(self, *args, **kwargs):  # requests < 2.32
        return self._watch(super().get_connection(*args, **kwargs))

    def _watch(self, pool):
        if getattr(pool, "_cloudflare_magic_watched", False):
            return pool
        take = pool._get_conn

        def _get_conn(*args, **kwargs):
            connection = take(*args, **kwargs)
            self.connection = connection
            return connection

        pool._get_conn = _get_conn
        pool._cloudflare_magic_watched = True
        return pool

    def cut(self):
        """Shut the socket of the connection in use; False while it has none yet."""
        sock = getattr(self.connection, "sock", None)
        if sock is None:
            return False
        # TLS inside a TLS proxy wraps the real socket; the base class call leaves the TLS object intact.
        sock = sock if isinstance(sock, socket.socket) else getattr(sock, "socket", sock)
        try:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except (OSError, TypeError):
            pass
        return True


def _keep_headers(prepared):
    """An auth hook that changes nothing: it stops requests from putting ~/.netrc credentials in
    place of ours, should a caller's session read the environment."""
    return prepared


def _verify(validate_certs, ca_path, environ):
    """What to verify TLS with: ca_path, else REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE (as requests would
    read them, but from the task's environment), else the system's CAs."""
    if not validate_certs:
        return False
    return ca_path or environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE") or True


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
    # Proxies, CA bundle and ~/.netrc from the process's environment are not read: see the module doc.
    session.trust_env = False
    adapter = _WatchedAdapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
